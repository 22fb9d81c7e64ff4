"""The whole read of the catalog: a version filled from the database (at start from the
version saved on disk, later from the current one: only the rows whose stamps differ are read),
built beside the loop, and reconciled with what was applied to the current version while it
read (applied.py). A large one is saved for the next start (saved.py).

WholeReads is the part of CatalogState (state.py) that does it; the state's fields it reads
and writes are declared here for the type checker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

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


class WholeReads:
    """Reading the whole catalog into a new version (a mixin of CatalogState)."""

    db: Database
    settings: Settings
    invalid: InvalidStoredTools
    saved: SavedVersion
    saves_allowed: asyncio.Event
    follower: ReplicaFollower
    _version: CatalogVersion | None
    _stale: bool
    _behind: bool
    _epoch: int
    _stamps: dict[str, str]
    _reads: list[list[Applied]]
    _saving: asyncio.Future[bool] | None
    _filling: asyncio.Task[CatalogVersion] | None

    if TYPE_CHECKING:

        def _swap(self, version: CatalogVersion) -> None: ...

    def _note(
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

    def _start_fill(self) -> asyncio.Task[CatalogVersion]:
        if self._filling is None or self._filling.done():
            self._filling = asyncio.ensure_future(self._read_whole())
            self._filling.add_done_callback(retrieve)
        return self._filling

    async def _fill(self) -> CatalogVersion:
        # shield: one reader's cancellation must not cancel the fill the others wait for.
        return await asyncio.shield(self._start_fill())

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
        if self._version is None and self.saved.matches():
            loading = asyncio.ensure_future(asyncio.to_thread(self._load_saved))
            loading.add_done_callback(retrieve)
        if self._version is not None and self._stamps:
            held = self._version.entries
            saved = {n: (s, held[n]) for n, s in self._stamps.items() if n in held}
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
        async with self.db.snapshot_read("load_catalog") as conn:
            position = await change_store.fetch_position(conn)
            if loading is not None or saved is not None:
                stamps = await tool_store.fetch_tool_stamps(conn)
            if loading is not None:
                saved = await loading
            if saved is None:
                rows = await tool_store.fetch_all_tools_json(conn)
                stamps = {row["name"]: row["stamp"] for row in rows}
            else:
                changed = [n for n, s in stamps.items() if n not in saved or saved[n][0] != s]
                rows = await tool_store.fetch_all_tools_json(conn, changed)
            entries = await vocabulary_store.fetch_vocabulary(conn)
            environments = await environment_store.fetch_environments(conn)
        vocabulary = Vocabulary(vocabulary=entries) if entries else None
        # Validation and encoding are CPU work (~0.3 ms a tool): beside the loop, so reads
        # keep flowing from the previous version meanwhile.
        version = await asyncio.to_thread(
            self._build_whole, rows, position.generation, vocabulary, environments, began,
            saved, stamps,
        )  # fmt: skip
        log.info(
            "catalog read: %d tools, %d of them from the database, in %.1f s",
            len(version.entries), len(rows), time.perf_counter() - start,
        )  # fmt: skip
        large = len(rows) >= self.settings.saved_version_min_tools
        del rows  # their decoded documents are garbage now: see release_free_memory
        if large:
            self._save(version, stamps)
        if epoch == self._epoch:
            self._stale = False
            self._behind = False
        current = self._version
        newer = newer_than(position, applied)
        if newer is None:
            return current if current is not None else version  # a later whole read's
        if current is not None and newer:
            # Our own writes committed after the snapshot, and tools re-read in a later one,
            # are newer in the current version: kept, whatever this read found.
            fresh = {n: current.entries[n] for n in newer if n in current.entries}
            gone = [n for n in newer if n not in current.entries]
            version = version.changed(fresh, gone, current.generation, version.built_at)
        self._swap(version)
        self.follower.followed = position
        self._note((), generation=position.generation, whole=True)
        self._stamps = {n: stamps[n] for n in version.entries if n in stamps and n not in newer}
        metrics.CATALOG_LOAD_DURATION.observe(time.perf_counter() - start)
        if large:
            await asyncio.to_thread(release_free_memory)
        return version

    def _build_whole(
        self,
        rows: Sequence[Any],
        generation: int,
        vocabulary: Vocabulary | None,
        environments: EnvironmentPolicies | None,
        began: float,
        saved: SavedEntries | None,
        stamps: dict[str, str],
    ) -> CatalogVersion:
        """The version of `rows` (every row, or with `saved` the rows whose stamps differ
        from the saved ones: the saved entries of the others are kept)."""
        # Millions of objects at 100,000 tools: built with the collector paused, then frozen
        # out of its reach (heap.py), so no later collection on a request's path walks them.
        with frozen_heap():
            records = (tool_store.record_of_json_row(row) for row in rows)
            entries = self._entries(records, whole=saved is None)
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
        previous = self._saving

        async def save() -> bool:
            if previous is not None:
                await asyncio.wait({previous})
            await self.saves_allowed.wait()
            if self.saved.stopping.is_set():
                return False
            return await asyncio.to_thread(self.saved.store, tools)

        self._saving = asyncio.ensure_future(save())
        self._saving.add_done_callback(retrieve)

    def _entries(self, records: Iterable[ToolRecord], *, whole: bool) -> dict[str, CachedTool]:
        return {r.name: entry_of(r, tool) for r, tool in self.invalid.valid(records, whole=whole)}


def retrieve(task: asyncio.Future[Any]) -> None:
    # A failed background read is logged by whoever awaits it next; never "never retrieved".
    if not task.cancelled():
        task.exception()
