"""The Stage B selector: request in, the (tool, capability, pattern) to run out, with estimates,
policy flags, reasons and how a tie was settled. Deterministic for a snapshot and a request
(the LLM tie-break aside). A new catalog generation's index is built beside the readers,
who answer from the previous one until it is ready (current_index.py, a part of Selector)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.answer import SelectionRecorder, answer
from toolcatalog.selection.beside import run_beside
from toolcatalog.selection.breaker import CircuitBreaker
from toolcatalog.selection.candidates import CandidateEnumerator, Enumeration
from toolcatalog.selection.checks import (
    refuse_unknown_tools,
)
from toolcatalog.selection.current_index import CurrentIndex
from toolcatalog.selection.decide import is_tied, tied_candidates
from toolcatalog.selection.embedding_cache import SharedVectors
from toolcatalog.selection.encoders.minilm import ModelUnavailable
from toolcatalog.selection.experiments import (
    Assignment,
    RunningExperiment,
    VariantConfig,
    assignment,
)
from toolcatalog.selection.feedback import FeedbackMemory
from toolcatalog.selection.loader import ProfileLoader, SnapshotSource
from toolcatalog.selection.models import (
    PreferencesUsed,
    SelectionRequest,
    SelectionResult,
)
from toolcatalog.selection.profiles import ObservedProfiles
from toolcatalog.selection.remembered import Recall, RememberedAnswers, answer_again, request_key
from toolcatalog.selection.scoring import (
    normalised,
    preference_share,
    resolve_preferences,
    wants_answer_now,
)
from toolcatalog.selection.semantic import SemanticIndex, SemanticView
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.text import configure_request_caches
from toolcatalog.selection.tiebreak import TieOutcome, break_tie

_DEFAULT = Assignment(None)
# `aselect` ranks in a pool of this many threads beside the event loop, never on it: the loop
# keeps answering cheap requests while a select ranks (~4-6 ms of CPU for a new request on the
# starter catalog, ~6-8 ms at 10,000 generated tools), and the rest queue in the pool without
# blocking it. More threads do not rank faster (ranking is Python holding the GIL); they set
# the selects' share of the GIL against the loop's, which hands it over turn by turn: with k
# threads ranking, the loop gets about 1/(k+1). With every select a new request, 64
# connections and one worker, two threads left the loop half the GIL, and selects queued
# until ~40 of the 64 connections waited on them (get 95 / select 5: p99 466-1,031 ms).
# Four: p99 130-291 ms there, about the same throughput, the GETs' own p99 ~85 -> ~140 ms; six
# did no better (docs/performance.md, "Session 17 (selnew)").
SELECT_THREADS = 4
# How long closing a selector waits for its embedding threads to stop at their next step.
EMBEDDING_STOP_S = 3.0
log = logging.getLogger(__name__)
T = TypeVar("T")


class Selector(CurrentIndex):
    """`select` (sync) and `aselect` (async) over a ProfileLoader or any SnapshotSource.

    With `settings.semantic` (the default) and the model installed, each new catalog index
    gets its tool embeddings computed in a background thread (see semantic.py); selection is
    lexical until they are ready (`wait_for_semantic` waits). Without the model,
    `semantic_status` says why and selection is lexical."""

    def __init__(
        self,
        source: ProfileLoader | SnapshotSource,
        settings: Settings | None = None,
        engine: SemanticEngine | None = None,
        shared: SharedVectors | None = None,
    ) -> None:
        """`engine` replaces the semantic engine `settings.semantic` would make (another
        encoder, another cache folder); `shared` lets that engine share text embeddings with
        other processes (the service passes the database's)."""
        self.loader = source if isinstance(source, ProfileLoader) else ProfileLoader(source=source)
        # The per-request path: the source's current snapshot when it can say without I/O
        # that nothing changed (the catalog service's fresh cache, a folder's stat check);
        # the ProfileLoader (fallbacks, status) is asked only when that says "unknown".
        self._peek = self.loader.peek_reader()
        self.settings = settings if settings is not None else Settings()
        # Process-wide caches of request texts: the last selector made sets their budget.
        configure_request_caches(self.settings.select_cache_max_bytes)
        self._enumerator: CandidateEnumerator | None = None
        # What was loaded with the saved catalog version (saved_index.py), taken by the first
        # build (set by the runtime): the first index is derived from it, so a restart
        # tokenises only the tools changed since it was saved.
        self.resumed: Callable[[], object | None] = lambda: None
        self._semantic: SemanticIndex | None = None
        self._wanted: CatalogSnapshot | None = None  # the snapshot a background build is for
        self._rebuilding: asyncio.Task[None] | None = None
        self._next_build_at = 0.0  # time.monotonic(): no background build starts before
        self._lock = threading.Lock()
        self._closing = threading.Event()  # ends the ruling thread (rule_ahead)
        self._pool = ThreadPoolExecutor(SELECT_THREADS, thread_name_prefix="toolcatalog-select")
        self._engine: SemanticEngine | None = engine
        self.breaker = CircuitBreaker(
            self.settings.llm_breaker_failures, self.settings.llm_breaker_cooldown_s
        )
        self._unavailable: str | None = None
        # Set by the runtime when a database records selections (none for a folder).
        self.recorder: SelectionRecorder | None = None
        # Telemetry's figures per pattern, swapped in whole by the runtime's refresher
        # (catalog/learning.py): read per request without I/O.
        self.observed: ObservedProfiles | None = None
        # Labelled requests from feedback, replaced whole by the refresher, extended in
        # place by feedback given through this process.
        self.memory: FeedbackMemory | None = None
        # The running experiment (each subject's selections run its variant's configuration)
        # and the configuration an experiment promoted (everyone else's), from the refresher.
        self.experiment: RunningExperiment | None = None
        self.promoted: VariantConfig | None = None
        # A repeated request's answer while what it was ranked on stands (remembered.py).
        budget = self.settings.select_answers_max_bytes
        self.answers = RememberedAnswers(budget) if budget > 0 else None
        if self.settings.semantic and engine is None:
            try:
                self._engine = SemanticEngine(
                    self.settings.home,
                    shared=shared,
                    query_cache_bytes=self.settings.select_cache_max_bytes // 2,
                )
            except ModelUnavailable as exc:
                self._unavailable = str(exc)
                log.warning("semantic retrieval is on but %s; selection stays lexical", exc)

    async def close(self, timeout_s: float = EMBEDDING_STOP_S) -> bool:
        """Stop building in the background, and the embedding threads at their next step
        (SemanticEngine.close) waiting up to `timeout_s` for them; True when none is left."""
        task, self._rebuilding = self._rebuilding, None
        self._closing.set()
        # A ranking in progress finishes in milliseconds; queued ones are dropped.
        self._pool.shutdown(wait=False, cancel_futures=True)
        stopped = True
        if self._engine is not None:
            stopped = await asyncio.to_thread(self._engine.close, timeout_s)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        return stopped

    def _semantic_view(self, text: str) -> SemanticView | None:
        semantic, engine = self._semantic, self._engine
        if semantic is None or engine is None:
            return None
        return engine.view(semantic, text)

    def select(self, request: SelectionRequest, subject: str | None = None) -> SelectionResult:
        """Sync select. With an LLM configured, a tie is sent to it only outside a running event
        loop (inside one, use `aselect`). `subject`: the caller (an API key's name), recorded
        when the request names no session_id."""
        started = time.perf_counter()
        snapshot = self._peek() if self._peek is not None else None
        enumerator = self.enumerator_for(snapshot or self.loader.snapshot())
        plan = assignment(self.experiment, self.promoted, request.session_id or subject)
        recall = self._recall(enumerator, request, plan)
        if recall is not None and recall.found is not None:
            again = answer_again(recall.found, request, started, self.recorder, subject, plan)
            return _result_of(again)
        prefs, found = self._rank(enumerator, request, plan.config)
        outcome = None
        if is_tied(found, self._margin(plan)) and self.settings.llm_url:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                outcome = asyncio.run(self._ask(request, found, self._margin(plan)))
            else:
                why = "sync select inside an event loop does not call the LLM; use aselect"
                outcome = TieOutcome(None, "deterministic", why)
        result = self._result(enumerator, request, prefs, found, outcome, started, subject, plan)
        if recall is not None and outcome is None:
            recall.keep(self._basis(enumerator), result, _json(result))
        return result

    async def aselect(
        self, request: SelectionRequest, subject: str | None = None
    ) -> SelectionResult:
        """Async select: the same answer as `select`, ranked in the selector's thread pool
        (SELECT_THREADS) so the event loop goes on serving other requests meanwhile. A new
        catalog generation's index is built in a worker thread too (see aselect_index)."""
        return await self._aselect(request, subject, _same, _result_of)

    async def aselect_json(
        self,
        request: SelectionRequest,
        subject: str | None = None,
        then: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """`aselect`'s answer as JSON (by alias, as the API shows it), encoded in the same
        hop beside the loop as the ranking: encoding a result on the loop (~1 ms of CPU)
        was a tenth of a select's cost there, and every request waited behind it. `then`
        gets the answer on the loop the moment the hop completes, a turn of the loop before
        this returns it (selection/beside.py): the API sends it from there."""
        return await self._aselect(request, subject, _json, _same_bytes, then)

    async def _aselect(
        self,
        request: SelectionRequest,
        subject: str | None,
        finish: Callable[[SelectionResult], T],
        again: Callable[[bytes], T],
        then: Callable[[T], None] | None = None,
    ) -> T:
        """`finish` makes the answer of a ranked result; `again` of a remembered answer's
        bytes, answered on the loop (a lookup and a join) without the hop beside it."""
        started = time.perf_counter()
        enumerator = await self.aselect_index()
        plan = assignment(self.experiment, self.promoted, request.session_id or subject)
        recall = self._recall(enumerator, request, plan)
        if recall is not None and recall.found is not None:
            out = again(answer_again(recall.found, request, started, self.recorder, subject, plan))
            if then is not None:
                then(out)
            return out
        if not self.settings.llm_url:
            return await self._beside(
                self._finished,
                finish,
                recall,
                self._answer,
                enumerator,
                request,
                plan,
                started,
                subject,
                then=then,
            )
        prefs, found = await self._beside(self._rank, enumerator, request, plan.config)
        outcome = None
        if is_tied(found, self._margin(plan)):
            outcome = await self._ask(request, found, self._margin(plan))
            recall = None  # an LLM's settling is not a function of what was ranked on
        return await self._beside(
            self._finished,
            finish,
            recall,
            self._result,
            enumerator,
            request,
            prefs,
            found,
            outcome,
            started,
            subject,
            plan,
            then=then,
        )

    async def _beside(
        self, work: Callable[..., T], *args: object, then: Callable[[T], None] | None = None
    ) -> T:
        """`work(*args)` in the selector's thread pool, in this task's context (its request
        id reaches the log records written there); `then` as in `run_beside`."""
        return await run_beside(self._pool, work, *args, then=then)

    def _recall(
        self, enumerator: CandidateEnumerator, request: SelectionRequest, plan: Assignment
    ) -> Recall | None:
        answers = self.answers
        if answers is None:
            return None
        return answers.recall(self._basis(enumerator), request_key(request, plan))

    def _basis(self, enumerator: CandidateEnumerator) -> tuple[object, ...]:
        """What an answer from `enumerator` is a function of, besides the request and its
        variant (`_rank` reads each): the index, the semantic stage and its query encoder,
        the learned figures, the feedback memory and its size, the experiments."""
        semantic, engine, memory = self._semantic, self._engine, self.memory
        vectors = semantic.vectors if semantic is not None and semantic.ready.is_set() else None
        return (
            enumerator,
            semantic,
            vectors,
            None if engine is None else engine.queries,
            self.observed,
            memory,
            -1 if memory is None else len(memory),
            self.experiment,
            self.promoted,
        )

    def _finished(
        self,
        finish: Callable[[SelectionResult], T],
        recall: Recall | None,
        work: Callable[..., SelectionResult],
        enumerator: CandidateEnumerator,
        *args: object,
    ) -> T:
        """`finish(work(enumerator, *args))`: a select's whole work in one hop beside the
        loop, its answer kept for a repeat (`recall`)."""
        result = work(enumerator, *args)
        out = finish(result)
        if recall is not None:
            body = out if isinstance(out, bytes) else _json(result)
            recall.keep(self._basis(enumerator), result, body)
        return out

    def _answer(
        self,
        enumerator: CandidateEnumerator,
        request: SelectionRequest,
        plan: Assignment,
        started: float,
        subject: str | None,
    ) -> SelectionResult:
        """Rank and answer without an LLM tie-break (a pool thread's whole select)."""
        prefs, found = self._rank(enumerator, request, plan.config)
        return self._result(enumerator, request, prefs, found, None, started, subject, plan)

    def _margin(self, plan: Assignment) -> float:
        config = plan.config
        if config is None or config.tie_margin is None:
            return self.settings.tie_margin
        return config.tie_margin

    def _rank(
        self,
        enumerator: CandidateEnumerator,
        request: SelectionRequest,
        config: VariantConfig | None = None,
    ) -> tuple[PreferencesUsed, Enumeration]:
        """Rank under the settings, or under an experiment's (or promoted) `config`."""
        refuse_unknown_tools(request, enumerator.index.tool_position)
        prefs = resolve_preferences(request)
        if config is not None and config.weights is not None and prefs.source != "request":
            prefs = prefs.model_copy(update={"weights": normalised(config.weights)})
        view = None
        semantic = self._semantic
        lexical = config is not None and config.semantic is False
        # Embeddings of an older generation may still be being replaced.
        if not lexical and semantic is not None and semantic.size == len(enumerator.index.tools):
            view = self._semantic_view(request.request)
        interactive = wants_answer_now(request, prefs)
        share = preference_share(prefs)
        if config is not None and config.preference_share is not None:
            share = config.preference_share
        enumerator.use_observed(self.observed)
        enumerator.memory = self.memory
        return prefs, enumerator.enumerate(request, prefs.weights, view, interactive, share)

    @property
    def llm_status(self) -> str:
        """off (no LLM configured) | closed | open: why, and when it is probed | half_open."""
        return self.breaker.describe() if self.settings.llm_url else "off"

    async def _ask(
        self, request: SelectionRequest, found: Enumeration, margin: float
    ) -> TieOutcome:
        skipped = self.breaker.acquire()
        if skipped is not None:
            return TieOutcome(
                None, "deterministic", f"{skipped}; the deterministic order stands", "skipped"
            )
        tied = tied_candidates(found, margin)
        try:
            outcome = await break_tie(self.settings, request.request, tied)
        except BaseException:
            self.breaker.release()  # cancelled: no verdict on the endpoint
            raise
        self.breaker.record(failed=outcome.asked in ("timeout", "error"))
        return outcome

    def _result(
        self,
        enumerator: CandidateEnumerator,
        request: SelectionRequest,
        prefs: PreferencesUsed,
        found: Enumeration,
        outcome: TieOutcome | None,
        started: float,
        subject: str | None = None,
        plan: Assignment = _DEFAULT,
    ) -> SelectionResult:
        margin, recorder = self._margin(plan), self.recorder
        return answer(
            enumerator, request, prefs, found, outcome, started, margin, recorder, subject, plan
        )


def _same(result: SelectionResult) -> SelectionResult:
    return result


def _json(result: SelectionResult) -> bytes:
    return result.model_dump_json(by_alias=True).encode()


def _same_bytes(body: bytes) -> bytes:
    return body


def _result_of(body: bytes) -> SelectionResult:
    return SelectionResult.model_validate_json(body)
