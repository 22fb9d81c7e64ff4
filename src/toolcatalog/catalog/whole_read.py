"""The whole read of the catalog: a version filled from the database (at start from the
version saved on disk, later from the current one: only the rows whose stamps differ are read),
built beside the loop, and reconciled with what was applied to the current version while it
read (applied.py). A large one is saved for the next start (saved.py).

WholeReads is owned by CatalogState (state.py, `state.whole`), whose current version it reads
and replaces (HeldVersion)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Protocol

from toolcatalog import metrics
from toolcatalog.catalog.applied import Applied, newer_than
from toolcatalog.catalog.entries import entry_of
from toolcatalog.catalog.following import ReplicaFollower
from toolcatalog.catalog.heap import frozen_heap, release_free_memory
from toolcatalog.catalog.saved import SavedEntries, SavedVersion
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool
from toolcatalog.config import Settings
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store import changes as change_store
from toolcatalog.store import environments as environment_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store import vocabulary as vocabulary_store
from toolcatalog.store.database import Database
from toolcatalog.store.tools import ToolRecord

log = logging.getLogger(__name__)


class HeldVersion(Protocol):
    """The current version a whole read starts from and replaces (CatalogState's)."""

    @property
    def current_version(self) -> CatalogVersion | None: ...

    def swap(self, version: CatalogVersion) -> None: ...


class WholeReads:
    """Reading the whole catalog into a new version. `stale`: notices may have been missed,
    the next read of the version waits for a whole read; `behind`: a notice said everything
    changed and the whole read it started has not finished; `stamps`: the row stamp each tool
    of the current version was read at (a later whole read reads only the rows whose stamps
    differ); `saving`: the save in progress or last made."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        invalid: InvalidStoredTools,
        saved: SavedVersion,
        saves_allowed: asyncio.Event,
        held: HeldVersion,
        follower: ReplicaFollower,
    ) -> None:
        self.db, self.settings, self.invalid = db, settings, invalid
        self.saved, self.saves_allowed = saved, saves_allowed
        self.held, self.follower = held, follower
        self.stale = False
        self.behind = False
        # Counts the moments the version became known stale or behind, so a read that
        # began before one cannot clear it.
        self._epoch = 0
        self.stamps: dict[str, str] = {}
        # What was applied to the current version while each whole read in flight was
        # reading: at its end, what its snapshot did not see is kept (see newer_than).
        self._reads: list[list[Applied]] = []
        self.saving: asyncio.Future[bool] | None = None
        self._filling: asyncio.Task[CatalogVersion] | None = None

    def invalidate(self) -> None:
        """Notices may have been missed: the next read of the version waits for a new whole
        read (one in flight, begun before, does not count)."""
        self.stale = True
        self._epoch += 1
        self._filling = None

    def fall_behind(self) -> None:
        """Everything changed elsewhere: a new whole read starts beside the readers, who keep
        the current version meanwhile."""
        self._epoch += 1
        self.behind = True
        self._filling = None
        self.start_fill()

    def note(
        self,
        names: Iterable[str],
        *,
        xid: int | None = None,
        generation: int | None = None,
        whole: bool = False,
    ) -> None:
        """Tell the whole reads in flight what was just applied to the current version."""
        if self._reads:
            change = Applied(frozenset(names), xid, generation, whole)
            for applied in self._reads:
                applied.append(change)

    def start_fill(self) -> asyncio.Task[CatalogVersion]:
        if self._filling is None or self._filling.done():
            self._filling = asyncio.ensure_future(self._read_whole())
            self._filling.add_done_callback(retrieve)
        return self._filling

    async def fill(self) -> CatalogVersion:
        # shield: one reader's cancellation must not cancel the fill the others wait for.
        return await asyncio.shield(self.start_fill())

    async def _read_whole(self) -> CatalogVersion:
        epoch = self._epoch
        start = time.perf_counter()
        began = time.monotonic()
        # The first fill starts from the saved version, a later one from the current version.
        # The file loads in a thread while the database is asked for the rows' stamps (100,000
        # tools: ~15 s of CPU for the file, seconds of the database's and the loop's for the
        # stamps, on another core).
        saved: SavedEntries | None = None
        loading: asyncio.Future[SavedEntries | None] | None = None
        current = self.held.current_version
        if current is None and self.saved.matches():
            loading = asyncio.ensure_future(asyncio.to_thread(self._load_saved))
            loading.add_done_callback(retrieve)
        if current is not None and self.stamps:
            held = current.entries
            saved = {n: (s, held[n]) for n, s in self.stamps.items() if n in held}
        applied: list[Applied] = []
        self._reads.append(applied)
        try:
            return await self._read_whole_noting(applied, epoch, start, began, saved, loading)
        finally:
            self._reads.remove(applied)

    async def _read_whole_noting(
        self,
        applied: list[Applied],
        epoch: int,
        start: float,
        began: float,
        saved: SavedEntries | None,
        loading: asyncio.Future[SavedEntries | None] | None,
    ) -> CatalogVersion:
        # The process's CPU with the wall time: on a busy machine the wall time is mostly
        # the scheduler's (a 100,000-tool read: 105 s of wall at load 9).
        cpu = time.process_time()
        async with self.db.snapshot_read("load_catalog") as conn:
            position = await change_store.fetch_position(conn)
            names: list[str] | None = None  # every row
            if loading is not None or saved is not None:
                stamps = await tool_store.fetch_tool_stamps(conn)
            if loading is not None:
                saved = await loading
            if saved is None:
                stamps = {}  # filled from the rows as they come
            else:
                names = [n for n, s in stamps.items() if n not in saved or saved[n][0] != s]
            entries = await vocabulary_store.fetch_vocabulary(conn)
            vocabulary = Vocabulary(vocabulary=entries) if entries else None
            environments = await environment_store.fetch_environments(conn)
            # Validation and encoding are CPU work (~0.3 ms a tool): beside the loop, so reads
            # keep flowing from the previous version meanwhile, each batch of rows as it comes
            # (the thread reads `stamps` only with `saved`, when they are all in already).
            batches: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
            build = (position.generation, vocabulary, environments, began, saved, stamps)
            building = asyncio.ensure_future(
                asyncio.to_thread(self.build_whole, _rows_of(batches), *build)
            )
            building.add_done_callback(retrieve)
            read = await _streamed(
                tool_store.stream_tools_json(conn, names),
                batches,
                building,
                stamps if saved is None else None,
            )
        version = await building
        log.info(
            "catalog read: %d tools, %d of them from the database, in %.1f s (%.1f s of CPU)",
            len(version.entries), read, time.perf_counter() - start, time.process_time() - cpu,
        )  # fmt: skip
        large = read >= self.settings.saved_version_min_tools
        if large:
            self._save(version, stamps)
        if epoch == self._epoch:
            self.stale = False
            self.behind = False
        current = self.held.current_version
        newer = newer_than(position, applied)
        if newer is None:
            return current if current is not None else version  # a later whole read's
        if current is not None and newer:
            # Our own writes committed after the snapshot, and tools re-read in a later one,
            # are newer in the current version: kept, whatever this read found.
            fresh = {n: current.entries[n] for n in newer if n in current.entries}
            gone = [n for n in newer if n not in current.entries]
            version = version.changed(fresh, gone, current.generation, version.built_at)
        self.held.swap(version)
        self.follower.followed = position
        self.note((), generation=position.generation, whole=True)
        self.stamps = {n: stamps[n] for n in version.entries if n in stamps and n not in newer}
        metrics.CATALOG_LOAD_DURATION.observe(time.perf_counter() - start)
        if large:
            await asyncio.to_thread(release_free_memory)
        return version

    def build_whole(
        self,
        rows: Iterable[Any],
        generation: int,
        vocabulary: Vocabulary | None,
        environments: EnvironmentPolicies | None,
        began: float,
        saved: SavedEntries | None,
        stamps: dict[str, str],
    ) -> CatalogVersion:
        """The version of `rows` (every row, or with `saved` the rows whose stamps differ
        from the saved ones: the saved entries of the others are kept), each row decoded,
        validated and encoded as it comes."""
        # Millions of objects at 100,000 tools: built with the collector paused, then frozen
        # out of its reach (heap.py), so no later collection on a request's path walks them.
        with frozen_heap():
            records = (tool_store.record_of_json_row(row) for row in rows)
            entries = self.entries(records, whole=saved is None)
            if saved is not None:
                kept = {n: e for n, (s, e) in saved.items() if stamps.get(n) == s}
                entries = kept | entries
            return CatalogVersion.build(entries, generation, vocabulary, environments, began)

    def _load_saved(self) -> SavedEntries | None:
        # Only a file to load is a build (heap.py; the caller checked `matches`): the first
        # build sets the baseline of the frozen heap, and a baseline of the empty process
        # would make the selector's build right after the version's unfreeze and walk the
        # whole heap.
        with frozen_heap():
            return self.saved.load()

    def _save(self, version: CatalogVersion, stamps: dict[str, str]) -> None:
        """Save `version` beside the loop (one save at a time; a later one waits its turn)."""
        tools = [(n, stamps[n], version.entries[n]) for n in version.names]
        previous = self.saving

        async def save() -> bool:
            if previous is not None:
                await asyncio.wait({previous})
            await self.saves_allowed.wait()
            if self.saved.stopping.is_set():
                return False
            return await asyncio.to_thread(self._store, tools)

        self.saving = asyncio.ensure_future(save())
        self.saving.add_done_callback(retrieve)

    def _store(self, tools: list[tuple[str, str, CachedTool]]) -> bool:
        """The save, then the C allocator's free pages handed back: its pickled chunks and
        the selector's index as bytes are garbage once written, and glibc kept them mapped
        (20,000 tools: anonymous memory 373 MiB before the save, 512 after, 445 trimmed)."""
        try:
            return self.saved.store(tools)
        finally:
            release_free_memory()

    def entries(self, records: Iterable[ToolRecord], *, whole: bool) -> dict[str, CachedTool]:
        return {r.name: entry_of(r, tool) for r, tool in self.invalid.valid(records, whole=whole)}

    async def close(self) -> None:
        """Cancel the whole read in flight; a save in progress stops at its next chunk."""
        if self._filling is not None and not self._filling.done():
            self._filling.cancel()
            with contextlib.suppress(BaseException):
                await self._filling
        if self.saving is not None:
            self.saved.stopping.set()
            self.saves_allowed.set()
            with contextlib.suppress(BaseException):
                await self.saving


# Put in a read's queue of rows when its fetch stopped before the end: the build raises
# (_Abandoned) instead of building a version of part of the catalog.
_ABANDONED: list[Any] = []


class _Abandoned(Exception):
    """The rows of a whole read stopped coming: its fetch failed or was cancelled."""


def _rows_of(batches: queue.SimpleQueue[list[Any] | None]) -> Iterator[Any]:
    """The rows put in `batches`, in order, until None (the end) or _ABANDONED."""
    while (rows := batches.get()) is not None:
        if rows is _ABANDONED:
            raise _Abandoned
        yield from rows


async def _streamed(
    stream: AsyncIterator[list[Any]],
    batches: queue.SimpleQueue[list[Any] | None],
    building: asyncio.Future[Any],
    stamps: dict[str, str] | None,
) -> int:
    """Hand the batches of `stream` to the build (`building`, reading `batches`), with each
    row's stamp put in `stamps` if given; the number of rows. A build that ended early (it
    failed: its error is raised when awaited) is given no more; a fetch that fails or is
    cancelled abandons the build."""
    read = 0
    end: list[Any] | None = _ABANDONED
    try:
        async for rows in stream:
            if stamps is not None:
                stamps.update((row["name"], row["stamp"]) for row in rows)
            read += len(rows)
            batches.put(rows)
            if building.done():
                break
        end = None
    finally:
        batches.put(end)
    return read


def retrieve(task: asyncio.Future[Any]) -> None:
    # A failed background read is logged by whoever awaits it next; never "never retrieved".
    if not task.cancelled():
        task.exception()
