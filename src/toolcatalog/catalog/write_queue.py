"""ToolWriteQueue: this process's writes to existing tools, each tool's queued writes sent to
the database together.

A write of a tool with nothing in flight goes at once, from its caller's task. Writes of a
tool that come while one of its batches is in flight wait for it, then go together in one
`write_tools` call (store/tools.py) as successive revisions: one round trip, one transaction,
one commit flush and one generation bump for them all, each write still its own revision,
audit entry, answer and error. Session 10's trace of the default mix: a patch's p90 was
178-300 ms waiting for its tool's previous write (they went one at a time, each a round trip
and a flush), then 162-262 ms for its own round trip. Different tools' batches go side by
side (one queue for every tool's writes, one batch in flight at a time, was measured and was
slower: under load a round trip is mostly the loop's turn, and a single pipeline pays the
turns one after the other).

Writes of one tool are planned in order, each on the one before it. A write is planned on the
row this process holds, which another replica may have changed since: the database refuses it
(`moved`) and it is planned again on the row it gives back, with the tool's later writes of
the batch (`skipped`). A refusal (412, 422) or a no-op is final only when decided on a row just
read from the database: decided on a held row, or on a write of the batch not yet committed,
the write waits for the next batch and is decided again on the stored row.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from toolcatalog.catalog.changes import ChangeAnnouncer, ChangeNotice
from toolcatalog.catalog.entries import entry_of
from toolcatalog.catalog.lexicon import Terms
from toolcatalog.catalog.state import CatalogState
from toolcatalog.catalog.views import CachedTool
from toolcatalog.errors import Conflict, InvalidDefinition, NotFound, PreconditionFailed
from toolcatalog.store import tools as tool_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.database import Database
from toolcatalog.store.errors import translate
from toolcatalog.store.tools import BatchedWrite, ToolRecord, ToolWrite

log = logging.getLogger(__name__)

# A write, its audit entry and the new tool's search lexemes (entries.tool_terms).
Planned = tuple[ToolWrite, AuditWrite, Terms]
# Plans a write on a row: None when nothing changes; raises PreconditionFailed or
# InvalidDefinition.
Plan = Callable[[ToolRecord], Planned | None]

# A write planned again this many times because other writers moved the row first gives up.
MAX_WRITE_ATTEMPTS = 16
# At most this many writes a batch (a notice names at most 100 tools; a batch is one
# statement's worth of work that every write in it waits for).
MAX_BATCH = 64
# Batches whose held definitions (once per write) are at most this long in all are planned
# (validated, encoded, their search lexemes made) on the event loop, not in a thread: ~1-1.6
# ms of CPU a starter tool of 4 KB. Under load a thread hop costs a whole turn of the loop
# (~10 ms at 64 connections) and the GIL is one: the hop made the write wait much longer
# than the work it moved made anyone else wait.
INLINE_PLAN_BYTES = 16384


@dataclass(eq=False, slots=True)
class _Queued:
    name: str
    plan: Plan
    done: asyncio.Future[CachedTool]
    attempts: int = 0


@dataclass(slots=True)
class _Round:
    """One batch in the making: each tool's row its next write is planned on, and whether
    that row was just read from the database (`stored`: a refusal on it is final)."""

    taken: list[_Queued]
    base: dict[str, ToolRecord] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)  # a write of the tool waits: later ones too
    batch: list[tuple[_Queued, Planned]] = field(default_factory=list)
    later: list[_Queued] = field(default_factory=list)
    # Decided without the database: refused (the error) or unchanged (the stored row).
    settled: list[tuple[_Queued, BaseException | ToolRecord]] = field(default_factory=list)
    reread: set[str] = field(default_factory=set)  # to decide again on the stored row
    held_bytes: int = 0  # what planning on the loop would take (held definitions)
    read: bool = False  # a row was read from the database for this round
    answers: list[tuple[_Queued, CachedTool | BaseException]] = field(default_factory=list)


class ToolWriteQueue:
    """Writes to existing tools, applied in batches (one in flight per tool), published to
    `state` right after each batch commits."""

    def __init__(
        self,
        db: Database,
        state: CatalogState,
        announcer: ChangeAnnouncer,
        *,
        instance_id: str,
    ) -> None:
        self.db = db
        self.state = state
        self.announcer = announcer
        self.instance_id = instance_id
        # Writes waiting for their tool's batch in flight, by tool; the tools with one.
        self._waiting: dict[str, deque[_Queued]] = {}
        self._busy: set[str] = set()
        self._following: set[asyncio.Future[None]] = set()  # the batches of queued writes
        # Tools whose next write must be decided on the stored row (with the row when known).
        self._reread: dict[str, ToolRecord | None] = {}

    async def write(self, name: str, plan: Plan, *, operation: str) -> CachedTool:
        """Apply `plan` to tool `name`'s current row; the tool as written (or unchanged).
        Raises what `plan` raises on the stored row, NotFound, Conflict (the row moved
        MAX_WRITE_ATTEMPTS times), or the database's refusal of this write alone."""
        queued = _Queued(name, plan, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(name, deque()).append(queued)
        if name not in self._busy:
            # Nothing of this tool in flight: this write is a batch of its own, sent from its
            # caller's task (a task of the queue's would start a turn of the loop later and
            # wake the caller a turn after it ends: under load a turn is a request's latency).
            self._busy.add(name)
            await self._turn(name, operation)
        return await queued.done

    async def _turn(self, name: str, operation: str) -> None:
        """Send the writes of `name` waiting now as one batch (`name` is busy meanwhile);
        those that come meanwhile go next, together, from a task of their own."""
        try:
            waiting = self._waiting.get(name, deque())
            taken = [waiting.popleft() for _ in range(min(MAX_BATCH, len(waiting)))]
            later = await self._one_batch(taken, operation)
            if later:  # back ahead of the writes queued meanwhile
                self._waiting.setdefault(name, deque()).extendleft(reversed(later))
        finally:
            if self._waiting.get(name):
                follow = asyncio.ensure_future(self._follow(name, operation))
                self._following.add(follow)
                follow.add_done_callback(self._following.discard)
            else:
                self._waiting.pop(name, None)
                self._busy.discard(name)

    async def _follow(self, name: str, operation: str) -> None:
        try:
            await self._turn(name, operation)
        except BaseException as exc:  # cancelled (the loop ends): no caller waits forever
            for queued in self._waiting.pop(name, ()):
                if not queued.done.done():
                    queued.done.set_exception(exc)
            self._busy.discard(name)
            raise

    async def _one_batch(self, taken: list[_Queued], operation: str) -> list[_Queued]:
        """Send `taken` as one batch; answers them, but for those to send again (returned,
        in their order)."""
        round_ = _Round([q for q in taken if not q.done.done()])  # callers gone: dropped
        try:
            async with self.db.statement(f"{operation}_tools") as conn:
                await self._round(conn, round_)
        except Exception as exc:  # the statement failed as a whole: every write with it
            round_.later.clear()
            round_.answers += [(q, exc) for q in round_.taken]
        # Answered once the connection is given back (a caller may use it next).
        for queued, answer in round_.answers:
            if queued.done.done():
                continue
            if isinstance(answer, BaseException):
                queued.done.set_exception(answer)
            else:
                queued.done.set_result(answer)
        round_.later.sort(key=round_.taken.index)
        return round_.later

    async def _round(self, conn: object, round_: _Round) -> None:
        await self._bases(conn, round_)
        if round_.read or round_.held_bytes > INLINE_PLAN_BYTES:
            await asyncio.to_thread(_plan, round_)
        else:
            _plan(round_)
        for name in round_.reread:
            self._reread.setdefault(name, None)
        for queued, decided in round_.settled:
            if isinstance(decided, ToolRecord):
                round_.answers.append((queued, self.state.written(decided)))
            else:
                round_.answers.append((queued, decided))
        if round_.batch:
            await self._send(conn, round_)

    async def _bases(self, conn: object, round_: _Round) -> None:
        """Each tool's row to plan on: the stored row when it must be (known from the last
        batch, else read now, all such tools in one query), else the held one."""
        unread: list[str] = []
        for name in dict.fromkeys(q.name for q in round_.taken):
            if name in self._reread:
                record = self._reread.pop(name)
                if record is None:
                    unread.append(name)
                else:
                    round_.base[name] = record
                    round_.stored.add(name)
                continue
            held = self.state.held_record(name)
            if held is None:
                unread.append(name)
            else:
                round_.base[name] = held[0]
                round_.held_bytes += len(held[1].body) * sum(q.name == name for q in round_.taken)
        if unread:
            read = await tool_store.fetch_tools(conn, unread)
            round_.base |= read
            round_.stored |= set(read)
            round_.read = True

    async def _send(self, conn: object, round_: _Round) -> None:
        items = [BatchedWrite(p[0], p[0].revision - 1, p[1]) for _, p in round_.batch]
        result = await tool_store.write_tools(conn, items, self.instance_id)
        entries: list[tuple[ToolRecord, CachedTool]] = []
        for (queued, (write, _, terms)), outcome in zip(round_.batch, result.outcomes, strict=True):
            if outcome.outcome == "written":
                assert outcome.record is not None
                # The tool was validated in full when planned: only encoded here.
                cached = entry_of(outcome.record, write.tool, terms)
                entries.append((outcome.record, cached))
                round_.answers.append((queued, cached))
            elif outcome.outcome == "moved":
                assert outcome.record is not None
                self._reread[queued.name] = outcome.record
                self._again(queued, round_)
            elif outcome.outcome == "skipped":
                self._reread.setdefault(queued.name, None)
                round_.later.append(queued)
            elif outcome.outcome == "missing":
                self._reread.pop(queued.name, None)
                round_.answers.append((queued, NotFound(f"no tool named {queued.name!r}")))
            else:
                assert outcome.error is not None
                self._reread.setdefault(queued.name, None)
                round_.answers.append((queued, translate(outcome.error) or outcome.error))
        if entries:
            published = result.published
            assert published is not None
            self.state.written_many(entries, published)
            names = tuple(dict.fromkeys(record.name for record, _ in entries))
            self.announcer.announce(
                ChangeNotice(self.instance_id, published.generation, names, change=published.id)
            )

    def _again(self, queued: _Queued, round_: _Round) -> None:
        queued.attempts += 1
        if queued.attempts >= MAX_WRITE_ATTEMPTS:
            refusal = Conflict(
                f"tool {queued.name!r} changed {MAX_WRITE_ATTEMPTS} times while this change "
                "was being applied; try again"
            )
            round_.answers.append((queued, refusal))
        else:
            round_.later.append(queued)

    async def close(self) -> None:
        """Wait for the batches in flight and the writes queued behind them."""
        while self._following:
            await asyncio.wait(set(self._following))


def _plan(round_: _Round) -> None:
    """Plan every taken write in order, each of a tool on the one before it: pure, so it may
    run beside the loop (what it decides is applied on the loop, by the caller)."""
    for queued in round_.taken:
        name = queued.name
        if name in round_.blocked:
            round_.later.append(queued)
            continue
        base = round_.base.get(name)
        if base is None:
            round_.settled.append((queued, NotFound(f"no tool named {name!r}")))
            continue
        final = name in round_.stored
        try:
            planned = queued.plan(base)
        except (PreconditionFailed, InvalidDefinition) as exc:
            if final:
                round_.settled.append((queued, exc))
                continue
            planned = None
        if planned is None:
            if final:
                round_.settled.append((queued, base))
                continue
            # Decided on a held row or on a write not yet committed: again, on the stored
            # row, in the next batch (unless a write of this batch moves it first).
            round_.blocked.add(name)
            round_.later.append(queued)
            round_.reread.add(name)
            continue
        write = planned[0]
        round_.batch.append((queued, planned))
        round_.base[name] = ToolRecord(
            base.id, name, write.revision, write.etag, write.definition,
            base.created_at, base.updated_at,
        )  # fmt: skip
        round_.stored.discard(name)  # the tool's next write plans on this one
