"""Remembered answers: a repeated select answered from the bytes of the same request's last
answer, with a fresh selection_id, its own elapsed_ms, metrics and selection-log row.

A ranking is a function of what the selector answers from (the index of a catalog
generation, the semantic stage and its encoder, the observed profiles, the feedback memory
and its size, the running experiment and the promoted configuration: the *basis*) and of
the request with its experiment variant. An answer is kept under that request's key only
while the basis it was ranked on is the selector's current one: a write, a learning
refresh, feedback given here, an experiment or the description clauses' vectors make a new
basis, and the first lookup under it drops every answer kept. An answer ranked while the
basis changed under it is not kept; neither is one an LLM tie-break settled (its answer is
not a function of the basis) nor an error.

Each answer is held as its JSON, split around the two values that differ per answer (the
selection_id, first, and elapsed_ms, near the end), so a repeat costs a lookup and a join
(~0.01 ms) instead of a ranking (~1-5 ms of CPU on the starter catalog, more at 10,000
tools). Bounded in bytes (TOOLCATALOG_SELECT_ANSWERS_MAX_BYTES, 0 turns it off), least
recently used first out. Thread-safe: the loop looks up, the selector's threads keep.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from dataclasses import dataclass

from pydantic_core import to_json

from toolcatalog import metrics
from toolcatalog.selection.answer import SelectionRecorder, count_selection, selection_row
from toolcatalog.selection.byte_cache import ByteLRU
from toolcatalog.selection.experiments import Assignment
from toolcatalog.selection.models import Decision, SelectionRequest, SelectionResult

# What an answer's Decision and the entry's small fields cost beside its bytes.
_ANSWER_OVERHEAD = 400
_ID_KEY = b'{"selection_id":'
_ELAPSED_KEY = b'"elapsed_ms":'


@dataclass(frozen=True, slots=True)
class Remembered:
    """One answer's JSON around its selection_id and elapsed_ms values, and what its
    metrics and selection-log row need."""

    head: bytes
    middle: bytes
    tail: bytes
    decision: Decision | None
    method: str  # the toolcatalog_selection_decisions label: none | deterministic
    generation: int

    def answer(self, selection_id: str, elapsed_ms: float) -> bytes:
        return b"".join(
            (self.head, to_json(selection_id), self.middle, to_json(elapsed_ms), self.tail)
        )

    @property
    def nbytes(self) -> int:
        return len(self.head) + len(self.middle) + len(self.tail) + _ANSWER_OVERHEAD


def answer_again(
    remembered: Remembered,
    request: SelectionRequest,
    started: float,
    recorder: SelectionRecorder | None,
    subject: str | None,
    plan: Assignment,
) -> bytes:
    """A remembered answer as a new one: its own selection_id, elapsed_ms, metrics and
    selection-log row, as `answer.answer` gives each select."""
    selection_id = uuid.uuid4()
    count_selection(remembered.method, started)
    metrics.SELECTION_REMEMBERED.inc()
    if recorder is not None:
        recorder.record(
            selection_row(
                selection_id, request, remembered.decision, remembered.generation, subject, plan
            )
        )
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return remembered.answer(str(selection_id), elapsed_ms)


def split_answer(result: SelectionResult, body: bytes) -> Remembered | None:
    """`result`'s JSON `body` split around its selection_id and elapsed_ms, or None when the
    body does not have the shape this relies on (selection_id first, elapsed_ms's the last
    `"elapsed_ms":` of the body): then the answer is not remembered."""
    if result.selection_id is None:
        return None
    selection_id, elapsed = to_json(result.selection_id), to_json(result.elapsed_ms)
    if not body.startswith(_ID_KEY + selection_id):
        return None
    at = body.rfind(_ELAPSED_KEY + elapsed)
    if at < len(_ID_KEY) + len(selection_id):
        return None
    end = at + len(_ELAPSED_KEY) + len(elapsed)
    decision = result.decision
    method = "none" if decision is None else "deterministic"
    return Remembered(
        _ID_KEY,
        body[len(_ID_KEY) + len(selection_id) : at + len(_ELAPSED_KEY)],
        body[end:],
        decision,
        method,
        result.catalog_version,
    )


def request_key(request: SelectionRequest, plan: Assignment) -> str:
    """Every field of `request` that can change its answer (all but session_id, which only
    picks the experiment variant) and the variant it runs."""
    fields = request.model_dump_json(exclude={"session_id"})
    return f"{plan.experiment}\x00{plan.variant}\x00{fields}"


def same_basis(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """The same objects (counts compared by value): a basis is never equal by contents."""
    return len(a) == len(b) and all(
        x is y or (type(x) is int and type(y) is int and x == y) for x, y in zip(a, b, strict=True)
    )


def weakly_held(basis: tuple[object, ...]) -> tuple[object, ...]:
    """`basis` as the remembered answers keep it: each object by a weak reference where it
    takes one, so that the basis does not keep what a newer one replaced alive (at 100,000
    tools the semantic vectors a compaction replaced held the restart's scan, ~400 MiB,
    until the next select's lookup). `same_basis` reads it back."""
    return tuple(_weakly(x) for x in basis)


def _weakly(x: object) -> object:
    if x is None or type(x) is int:
        return x
    try:
        return weakref.ref(x)
    except TypeError:
        return x


def _held(x: object) -> object:
    """What `weakly_held` kept: the object, or a new one when it is gone (the same as none)."""
    if type(x) is weakref.ref:
        alive = x()
        return object() if alive is None else alive
    return x


@dataclass(frozen=True, slots=True)
class Recall:
    """One request's lookup: the answer found, or where to keep the one it will rank."""

    answers: RememberedAnswers
    key: str
    basis: tuple[object, ...]
    found: Remembered | None

    def keep(self, now: tuple[object, ...], result: SelectionResult, body: bytes) -> None:
        """Keep the ranked `result` (JSON `body`) if the basis is still the looked-up one."""
        self.answers.keep(self.basis, now, self.key, result, body)


class RememberedAnswers:
    """The answers of the current basis, by request key (see the module's docstring)."""

    def __init__(self, max_bytes: int) -> None:
        self._answers: ByteLRU[Remembered] = ByteLRU(max_bytes, lambda r: r.nbytes)
        self._basis: tuple[object, ...] = ()
        self._lock = threading.Lock()

    def recall(self, basis: tuple[object, ...], key: str) -> Recall:
        return Recall(self, key, basis, self.get(basis, key))

    def get(self, basis: tuple[object, ...], key: str) -> Remembered | None:
        """The answer kept for `key` on `basis`; a new basis drops every answer kept."""
        with self._lock:
            if not same_basis(basis, tuple(map(_held, self._basis))):
                self._answers.clear()
                self._basis = weakly_held(basis)
                return None
            return self._answers.get(key)

    def keep(
        self,
        ranked_on: tuple[object, ...],
        now: tuple[object, ...],
        key: str,
        result: SelectionResult,
        body: bytes,
    ) -> None:
        """Keep `result` (its JSON `body`) for `key` when the basis it was ranked on is still
        the current one (`now`, read after the ranking) and the one kept answers are for."""
        if not same_basis(ranked_on, now):
            return
        remembered = split_answer(result, body)
        if remembered is None:
            return
        with self._lock:
            if not same_basis(ranked_on, tuple(map(_held, self._basis))):
                return
            self._answers.put(key, remembered)

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def nbytes(self) -> int:
        return self._answers.nbytes
