"""CatalogState: the catalog as this process holds it in memory, fed by our own writes (right
after their commit) and by change notices from other replicas.

Two things are held. The current CatalogVersion (version.py): every valid tool encoded once,
with the snapshot the selector reads and the lists are cut from; a change makes a new version
from the previous one, built beside the readers and swapped in with one assignment, so a list
or a select never waits for a write. And the per-tool cache of GET, an LRU with single-flight
loads whose entries a write replaces at once.

The database is read to fill the version at start, after a missed notice (listener reconnect,
database back), when it is older than TTL without a listener to keep it current, and for the
tools a notice names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from toolcatalog import metrics
from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.catalog.heap import frozen_heap, release_free_memory
from toolcatalog.catalog.saved import SavedEntries, SavedVersion
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.catalog.version import CatalogVersion, entry_of
from toolcatalog.catalog.views import CachedTool
from toolcatalog.config import Settings
from toolcatalog.errors import NotFound, StoredDefinitionInvalid
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.names import did_you_mean
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import STORED, Status, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store import changes as change_store
from toolcatalog.store import environments as environment_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store import vocabulary as vocabulary_store
from toolcatalog.store.changes import Position, Published
from toolcatalog.store.database import Database
from toolcatalog.store.tools import ToolRecord

log = logging.getLogger(__name__)

# Below this many records, validating and encoding on the loop costs less than a thread hop.
_INLINE_RECORDS = 20
# How often a listening process looks in the change log for changes no notice brought (their
# writer died between its commit and its notice): one small query, answered by the index on
# the log's last ~1,000 rows.
CATCH_UP_INTERVAL_S = 1.0


class CatalogState:
    """The in-memory catalog of one process. `origin` tells our own change notices (already
    applied right after their commit) from other replicas'."""

    def __init__(self, db: Database, settings: Settings, *, origin: str) -> None:
        self.db = db
        self.settings = settings
        self.origin = origin
        self.tools: AsyncLRUCache[CachedTool] = AsyncLRUCache(
            "tool", settings.cache_max_size, settings.cache_ttl_s
        )
        self.invalid = InvalidStoredTools()
        self._version: CatalogVersion | None = None
        self._filling: asyncio.Task[CatalogVersion] | None = None
        self._pending: set[str] = set()  # named by notices, not yet re-read
        self._refreshing: asyncio.Task[None] | None = None
        # Seconds between re-reads of the tools notices name (0: each at once). A selection
        # process sets it: it reads only through the selector's paced index builds, and
        # re-reading the default mix's ~40 patches a second one notice at a time cost it as
        # much CPU as the worker that made them.
        self.reread_pause_s = 0.0
        self._listeners: list[Callable[[ChangeNotice], None]] = []
        # Known stale (notices may have been missed): the next read waits for a whole read.
        # `_epoch` counts such moments, so a read that began before one cannot clear it.
        self._stale = False
        self._epoch = 0
        # Being re-read after a notice: GET does not answer them from the version meanwhile.
        self._rereading: set[str] = set()
        # A notice said "everything" changed (another replica's large import) and the whole
        # read it started has not finished: GET reads the database meanwhile, lists and
        # select keep the previous version.
        self._behind = False
        # True while a change listener keeps this state current (set by the runtime).
        self.listening: Callable[[], bool] = lambda: False
        # The version kept on disk between starts (saved.py): the first fill reads from the
        # database only what changed since; a large whole read saves it beside the loop.
        self.saved = SavedVersion(
            settings.home / "cache", f"{settings.database_url or settings.home}"
        )
        self._saving: asyncio.Future[bool] | None = None
        # The row stamp each tool of the current version was read at by a whole read (a tool
        # changed since by a write or a notice is not in it): a later whole read (a missed
        # notice, a listener reconnect) reads from the database only the rows whose stamps
        # differ, as a start does from the saved version.
        self._stamps: dict[str, str] = {}
        # A save waits for this (set but while start-up builds the selector's index: saving
        # 100,000 tools is ~20 s of CPU, and beside that build it only delayed serving).
        self.saves_allowed = asyncio.Event()
        self.saves_allowed.set()
        # What was applied to the current version while each whole read in flight was
        # reading: at its end, what its snapshot did not see is kept (see _newer_than).
        self._reads: list[list[_Applied]] = []
        # Every change visible at this position is applied (set by whole reads, moved on by
        # `catch_up`); the changes whose notices came since, by their ids in the log.
        self._followed: Position | None = None
        self._noticed: set[int] = set()
        self._following: asyncio.Task[None] | None = None

    def holds_tools(self) -> bool:
        """Whether this process holds tools to answer reads with from memory (a catalog
        version, or GET cache entries): with the database away it then serves degraded."""
        version = self._version
        return bool(len(self.tools) or (version is not None and version.entries))

    # ---------------------------------------------------------------- one tool

    def held_tool(self, name: str) -> CachedTool | None:
        """The tool from memory, without I/O: the GET cache's fresh entry, else the current
        version's, unless something says the version may be behind for it (a notice naming
        it not yet applied, a missed notice, a version past its TTL). Counted as a hit; None
        (not counted) sends the caller to `get_tool`, which loads it (a tool the version
        does not hold: unknown, or stored but no longer valid)."""
        cached = self.tools.hit(name)
        if cached is not None:
            return cached
        entry = self._current_entry(name)
        if entry is not None:
            self.tools.count_hit()
        return entry

    def _current_entry(self, name: str) -> CachedTool | None:
        """The current version's entry for `name`, unless the version may be behind for it."""
        version = self._version
        if (
            version is None
            or self._stale
            or self._behind
            or name in self._pending
            or name in self._rereading
            or self._expired(version)
        ):
            return None
        return version.entries.get(name)

    def held_record(self, name: str) -> tuple[ToolRecord, CachedTool] | None:
        """The tool as `held_tool` would serve it, as the record a write is planned on (not
        counted as a read), or None. It may be behind another replica's write that no
        notice has brought yet: a write planned on it applies only if the row is still at
        its revision (writes.py), so it can cost a second plan, never a lost change."""
        entry = self.tools.peek(name) or self._current_entry(name)
        if entry is None:
            return None
        definition = orjson.loads(entry.body)
        record = ToolRecord(
            entry.id, name, entry.revision, entry.etag, definition,
            entry.created_at, entry.updated_at,
        )  # fmt: skip
        return record, entry

    async def get_tool(self, name: str) -> CachedTool:
        """The tool by name, from memory when possible. Raises NotFound naming the closest
        tools."""
        held = self.held_tool(name)
        if held is not None:
            return held
        try:
            return await self.tools.get_or_load(name, lambda: self._load_tool(name))
        except NotFound as exc:
            raise await self._closest_tools(name, exc) from None

    async def get_tool_or_stale(self, name: str, wait_s: float) -> tuple[CachedTool, bool]:
        """`get_tool`, except that an expired cached tool whose reload takes longer than
        `wait_s` is answered as it was, flagged stale (True)."""
        held = self.held_tool(name)
        if held is not None:
            return held, False
        try:
            return await self.tools.get_or_stale(
                name, lambda: self._load_tool(name), wait_s, self._held_even_if_behind(name)
            )
        except NotFound as exc:
            raise await self._closest_tools(name, exc) from None

    async def _closest_tools(self, name: str, exc: NotFound) -> NotFound:
        """`exc` naming the closest tools of the catalog ("did you mean df?")."""
        return NotFound(f"{exc.detail}{did_you_mean(name, (await self.version()).names)}")

    async def _load_tool(self, name: str) -> CachedTool:
        async with self.db.connection("fetch_tool") as conn:
            record = await tool_store.fetch_tool(conn, name)
        if record is None:
            raise NotFound(f"no tool named {name!r}")
        return entry_of(record, self.invalid.validate_one(record))

    def peek_tool(self, name: str) -> CachedTool | None:
        """A held tool even if stale (for serving while the database is away): the GET
        cache's entry, else the current version's."""
        return self.tools.peek(name, allow_stale=True) or self._held_even_if_behind(name)

    def _held_even_if_behind(self, name: str) -> CachedTool | None:
        """The current version's entry for `name`, whether or not the version may be behind
        for it (past its TTL, a notice not yet applied): only ever served flagged stale."""
        version = self._version
        return version.entries.get(name) if version is not None else None

    def view_of(self, record: ToolRecord) -> CachedTool | None:
        """The record ready to serve: the held one when its ETag is the same, else built
        afresh; None when it no longer validates. Never stored."""
        held = self._version.entries.get(record.name) if self._version else None
        if held is not None and held.etag == record.etag:
            return held
        cached = self.tools.peek(record.name, allow_stale=True)
        if cached is not None and cached.etag == record.etag:
            return cached
        try:
            return entry_of(record, self.invalid.validate_one(record))
        except StoredDefinitionInvalid:
            return None

    # ---------------------------------------------------------------- the whole catalog

    async def version(self) -> CatalogVersion:
        """The current version. Waits only when there is none yet; an expired one (no
        listener kept it current) is answered while its successor is read beside it."""
        current = self._version
        if current is None or self._stale:
            return await self._fill()
        if self._expired(current):
            self._start_fill()
        return current

    def _expired(self, version: CatalogVersion) -> bool:
        """Past the TTL with nothing to keep it current. A connected listener does: every
        committed change is noticed, and a reconnect or a database back from an outage
        invalidates everything. (Expiring anyway re-read the whole catalog every TTL: at
        100,000 tools a whole read took longer than the TTL, so it never ended.)"""
        if self.listening():
            return False
        return time.monotonic() - version.built_at > self.settings.cache_ttl_s

    async def snapshot(self) -> CatalogSnapshot:
        """Every valid tool with capabilities and patterns, as one immutable snapshot."""
        return (await self.version()).snapshot

    def peek_snapshot(self) -> CatalogSnapshot | None:
        """The current snapshot without I/O (None before the first fill)."""
        current = self._version
        if current is None:
            return None
        if self._expired(current):
            self._start_fill()
        return current.snapshot

    def _start_fill(self) -> asyncio.Task[CatalogVersion]:
        if self._filling is None or self._filling.done():
            self._filling = asyncio.ensure_future(self._read_whole())
            self._filling.add_done_callback(_retrieve)
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
            loading.add_done_callback(_retrieve)
        if self._version is not None and self._stamps:
            held = self._version.entries
            saved = {n: (s, held[n]) for n, s in self._stamps.items() if n in held}
        applied: list[_Applied] = []
        self._reads.append(applied)
        try:
            return await self._read_whole_noting(applied, epoch, start, began, saved, loading)
        finally:
            self._reads.remove(applied)

    async def _read_whole_noting(
        self,
        applied: list[_Applied],
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
        newer = _newer_than(position, applied)
        if newer is None:
            return current if current is not None else version  # a later whole read's
        if current is not None and newer:
            # Our own writes committed after the snapshot, and tools re-read in a later one,
            # are newer in the current version: kept, whatever this read found.
            fresh = {n: current.entries[n] for n in newer if n in current.entries}
            gone = [n for n in newer if n not in current.entries]
            version = version.changed(fresh, gone, current.generation, version.built_at)
        self._swap(version)
        self._followed = position
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
        self._saving.add_done_callback(_retrieve)

    def _entries(self, records: Iterable[ToolRecord], *, whole: bool) -> dict[str, CachedTool]:
        return {r.name: entry_of(r, tool) for r, tool in self.invalid.valid(records, whole=whole)}

    def _swap(self, version: CatalogVersion) -> None:
        self._version = version
        metrics.CATALOG_GENERATION.set(version.generation)
        # The filter index's per-status lists, kept per version (a loop over every tool here
        # cost ~10 ms on the loop per write at 100,000 tools).
        for status in Status:
            metrics.TOOLS.labels(status.value).set(version.count_with("status", status.value))

    # ---------------------------------------------------------------- changes

    @staticmethod
    def entry_for(record: ToolRecord) -> CachedTool:
        """The record validated and encoded for serving (~0.3 ms: a caller on the event loop
        runs it in a thread and hands the result to `written`)."""
        return entry_of(record, Tool.model_validate(record.definition, context=STORED))

    def written(
        self,
        record: ToolRecord,
        published: Published | None = None,
        cached: CachedTool | None = None,
    ) -> CachedTool:
        """A tool as our own committed write left it: served at once, by GET and, given the
        write's `published` change, by the version (the new version is a table copy).
        `cached`: `entry_for(record)` if already made."""
        if cached is None:
            cached = self.entry_for(record)
        self.tools.invalidate(record.name)
        self.tools.put(record.name, cached)
        self.invalid.forget([record.name])
        self._stamps.pop(record.name, None)
        if published is not None and self._version is not None:
            current = self._version
            self._swap(
                current.changed({record.name: cached}, (), published.generation, current.built_at)
            )
            self._note([record.name], xid=published.xid)
        return cached

    def written_many(
        self, written: Sequence[tuple[ToolRecord, CachedTool]], published: Published
    ) -> None:
        """Several tools as one committed batch of our own writes left them (a tool written
        twice: its last write): served at once, in one new version."""
        fresh: dict[str, CachedTool] = {}
        for record, cached in written:
            self.tools.invalidate(record.name)
            self.tools.put(record.name, cached)
            self._stamps.pop(record.name, None)
            fresh[record.name] = cached
        self.invalid.forget(list(fresh))
        if self._version is not None:
            current = self._version
            self._swap(current.changed(fresh, (), published.generation, current.built_at))
            self._note(fresh, xid=published.xid)

    def removed(self, name: str, published: Published) -> None:
        """Our own committed purge of `name`."""
        self.tools.invalidate(name)
        self.invalid.forget([name])
        self._stamps.pop(name, None)
        if self._version is not None:
            current = self._version
            self._swap(current.changed({}, (name,), published.generation, current.built_at))
            self._note([name], xid=published.xid)

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
            change = _Applied(frozenset(names), xid, generation, whole)
            for applied in self._reads:
                applied.append(change)

    async def reread(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Bring the version up to date with the database for `names` (or everything), and
        drop their GET cache entries; returns once the new version is in place (an import
        waits for it, readers do not)."""
        self.forget_cached(names, everything=everything)
        if self._version is None:
            return  # filled on first read
        if everything:
            self._stale = True
            self._epoch += 1
            self._filling = None
            await self._fill()
        else:
            await self._reread_names(set(names))

    async def _reread_names(self, names: set[str]) -> None:
        self._rereading |= names
        try:
            await self._reread_names_now(names)
        finally:
            self._rereading -= names

    async def _reread_names_now(self, names: set[str]) -> None:
        async with self.db.snapshot_read("refresh_catalog") as conn:
            generation = await change_store.fetch_generation(conn)
            records = list((await tool_store.fetch_tools(conn, sorted(names))).values())
        if len(records) > _INLINE_RECORDS:
            fresh = await asyncio.to_thread(self._entries, records, whole=False)
        else:
            fresh = self._entries(records, whole=False)
        current = self._version
        if current is None:
            return
        gone = [n for n in names if n not in fresh]
        for name in names:
            self._stamps.pop(name, None)
        # A record read before one of our own writes committed must not undo it.
        fresh = {
            n: e
            for n, e in fresh.items()
            if (held := current.entries.get(n)) is None or held.revision <= e.revision
        }
        self._swap(current.changed(fresh, gone, generation, current.built_at))
        self._note(names, generation=generation)

    def forget_cached(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Drop the GET cache entries a change to `names` (or to everything) made stale."""
        if everything or len(names) > self.settings.cache_max_size // 2:
            self.tools.clear()
        else:
            for name in names:
                self.tools.invalidate(name)
                self._stamps.pop(name, None)
            self.invalid.forget(names)  # re-checked when next read

    def forget(self, names: Sequence[str], *, everything: bool = False) -> None:
        """A change made elsewhere: GET entries dropped now, the version re-read beside the
        readers (they keep the previous one until it is ready)."""
        self.forget_cached(names, everything=everything)
        if self._version is None:
            return
        if everything or not names:
            self._epoch += 1
            self._behind = True
            self._filling = None
            self._start_fill()
            return
        self._pending.update(names)
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._drain())
            self._refreshing.add_done_callback(_retrieve)

    async def _drain(self) -> None:
        while self._pending:
            names, self._pending = self._pending, set()
            try:
                await self._reread_names(names)
            except Exception:
                # Unread: the whole catalog is read again when it can be.
                log.warning("re-reading changed tools failed; reading the whole catalog")
                self._start_fill()
                return
            if self.reread_pause_s > 0:
                # The notices of the pause gather in `_pending`: one re-read for them all.
                await asyncio.sleep(self.reread_pause_s)

    def apply_change(self, notice: ChangeNotice) -> None:
        """A change notice from the listener: another replica's write is applied; ours,
        echoed back, was applied right after its commit."""
        if notice.origin != self.origin:
            if notice.change is not None:
                self._noticed.add(notice.change)
            metrics.NOTIFY_MESSAGES.labels("all" if notice.everything else "tools").inc()
            self.forget(notice.names, everything=notice.everything)
        for listener in list(self._listeners):
            listener(notice)

    def start_following(self) -> None:
        """Look in the change log every CATCH_UP_INTERVAL_S while a listener is connected
        (until `close`)."""
        self._following = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_INTERVAL_S)
            if not self.listening():
                continue  # a reconnect invalidates everything anyway
            try:
                await self.catch_up()
            except Exception as exc:  # the database away: its recovery invalidates it all
                log.info("change log not read", extra={"error": f"{exc.__class__.__name__}"})

    async def catch_up(self) -> list[int]:
        """Apply the committed changes of other replicas that no notice brought (their writer
        died between its commit and its notice, or could not send it): those the change log
        holds past the position every change is applied to. The generation counts exactly
        the changes a snapshot sees, so it also tells when some were folded out of the log
        before this looked: then everything is read again. Returns the ids of the changes
        applied (for tests and the log)."""
        followed = self._followed
        if followed is None or self._version is None or self._stale:
            return []
        noticed = set(self._noticed)  # their changes are visible to the snapshot below
        async with self.db.connection("catch_up") as conn:
            position, changes = await change_store.fetch_changes_after(conn, followed)
        if self._followed is not followed:
            return []  # a whole read moved it meanwhile
        self._followed = position
        unseen = [c for c in changes if not followed.sees(c.xid)]
        self._noticed -= noticed | {c.id for c in unseen}
        if len(unseen) != position.generation - followed.generation:
            log.warning("changes folded out of the change log unread; reading everything")
            metrics.NOTIFY_MESSAGES.labels("missed").inc()
            self.forget([], everything=True)
            return [c.id for c in unseen]
        missed = [c for c in unseen if c.origin != self.origin and c.id not in noticed]
        if missed:
            log.warning(
                "changes without a notice found in the change log",
                extra={"changes": [c.id for c in missed]},
            )
            metrics.NOTIFY_MESSAGES.labels("missed").inc(len(missed))
            names = sorted({n for c in missed for n in c.names})
            self.forget(names, everything=any(c.everything for c in missed))
        return [c.id for c in missed]

    def invalidate_all(self) -> None:
        """Notices may have been missed (listener reconnect, database back): drop the GET
        cache; the next read of the version waits for the whole catalog to be read again
        (the selector's cheap `peek_snapshot` keeps the previous one meanwhile)."""
        self.tools.clear()
        self._stale = True
        self._epoch += 1
        self._filling = None

    def add_change_listener(self, callback: Callable[[ChangeNotice], None]) -> None:
        self._listeners.append(callback)

    async def close(self) -> None:
        for task in (self._filling, self._refreshing, self._following):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._saving is not None:
            self.saved.stopping.set()  # a save in progress stops at its next chunk
            self.saves_allowed.set()
            with contextlib.suppress(BaseException):
                await self._saving


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A failed background read is logged by whoever awaits it next; never "never retrieved".
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class _Applied:
    """A change applied to the current version: our own committed write (`xid`, its
    transaction), or tools re-read in a snapshot (`generation`; `whole`: a whole read's)."""

    names: frozenset[str]
    xid: int | None
    generation: int | None
    whole: bool = False

    def seen_by(self, position: Position) -> bool:
        """Whether a read at `position` saw this change (or something newer for its tools).
        Generations of snapshots count exactly the changes visible in them, and a later
        snapshot sees every commit an earlier one saw: an equal or lower one saw no more.
        A write's own generation is only a lower bound: its transaction is compared."""
        if self.xid is not None:
            return position.sees(self.xid)
        assert self.generation is not None
        return self.generation <= position.generation


def _newer_than(position: Position, applied: Iterable[_Applied]) -> set[str] | None:
    """The tools of the current version newer than a whole read at `position` (what was
    applied to it while the read was in flight and the read's snapshot did not see), or None
    when a later whole read replaced the version: then the read is dropped whole."""
    newer: set[str] = set()
    for change in applied:
        if change.seen_by(position):
            continue
        if change.whole:
            return None
        newer |= change.names
    return newer
