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

Here: reads of one tool (GET), of the version, and our own writes applied. The whole read of a
version is whole_read.py, re-reading the tools a notice names rereads.py, following other
replicas' notices and change log following.py: objects this state owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import orjson

from toolcatalog import metrics
from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.catalog.entries import entry_of
from toolcatalog.catalog.following import ReplicaFollower
from toolcatalog.catalog.rereads import Rereads
from toolcatalog.catalog.saved import SavedVersion
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool
from toolcatalog.catalog.whole_read import WholeReads
from toolcatalog.config import Settings
from toolcatalog.errors import NotFound, StoredDefinitionInvalid
from toolcatalog.model.fields import STORED
from toolcatalog.model.names import did_you_mean
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Status, Tool
from toolcatalog.store import tools as tool_store
from toolcatalog.store.changes import Published
from toolcatalog.store.database import Database
from toolcatalog.store.tools import ToolRecord

log = logging.getLogger(__name__)


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
        # True while a change listener keeps this state current (set by the runtime).
        self.listening: Callable[[], bool] = lambda: False
        # The version kept on disk between starts (saved.py): the first fill reads from the
        # database only what changed since; a large whole read saves it beside the loop.
        self.saved = SavedVersion(
            settings.home / "cache", f"{settings.database_url or settings.home}"
        )
        # A save waits for this (set but while start-up builds the selector's index: saving
        # 100,000 tools is ~20 s of CPU, and beside that build it only delayed serving).
        self.saves_allowed = asyncio.Event()
        self.saves_allowed.set()
        # Other replicas' changes: the position every change is applied at, their notices.
        self.follower = ReplicaFollower(self)
        # Whole reads of the version (a missed notice is `whole.stale`: the next read waits
        # for one; a notice that everything changed `whole.behind`: GET reads the database
        # until its whole read is in, lists and select keep the previous version), and
        # re-reads of the tools notices name.
        self.whole = WholeReads(
            db, settings, self.invalid, self.saved, self.saves_allowed, self, self.follower
        )
        self.rereads = Rereads(db, settings, self.tools, self.invalid, self.whole, self)

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
            or self.whole.stale
            or self.whole.behind
            or self.rereads.behind_for(name)
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
        if current is None or self.whole.stale:
            return await self.whole.fill()
        if self._expired(current):
            self.whole.start_fill()
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
        current = self.peek_version()
        return None if current is None else current.snapshot

    def peek_version(self) -> CatalogVersion | None:
        """The current version without I/O (None before the first fill)."""
        current = self._version
        if current is None:
            return None
        if self._expired(current):
            self.whole.start_fill()
        return current

    @property
    def current_version(self) -> CatalogVersion | None:
        """The version held now, without I/O or a refresh (None before the first fill)."""
        return self._version

    def swap(self, version: CatalogVersion) -> None:
        """Replace the current version (whole reads, re-reads and our own writes do)."""
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
        self.whole.stamps.pop(record.name, None)
        if published is not None and self._version is not None:
            current = self._version
            self.swap(
                current.changed({record.name: cached}, (), published.generation, current.built_at)
            )
            self.whole.note([record.name], xid=published.xid)
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
            self.whole.stamps.pop(record.name, None)
            fresh[record.name] = cached
        self.invalid.forget(list(fresh))
        if self._version is not None:
            current = self._version
            self.swap(current.changed(fresh, (), published.generation, current.built_at))
            self.whole.note(fresh, xid=published.xid)

    def removed(self, name: str, published: Published) -> None:
        """Our own committed purge of `name`."""
        self.tools.invalidate(name)
        self.invalid.forget([name])
        self.whole.stamps.pop(name, None)
        if self._version is not None:
            current = self._version
            self.swap(current.changed({}, (name,), published.generation, current.built_at))
            self.whole.note([name], xid=published.xid)

    def apply_change(self, notice: ChangeNotice) -> None:
        """A change notice from the listener (following.py)."""
        self.follower.apply_change(notice)

    def start_following(self) -> None:
        """Look in the change log every CATCH_UP_INTERVAL_S while a listener is connected
        (until `close`)."""
        self.follower.start()

    async def catch_up(self) -> list[int]:
        """Apply the changes of other replicas that no notice brought (following.py)."""
        return await self.follower.catch_up()

    def is_whole(self) -> bool:
        """Whether a version is held and not known stale (missed notices wait for a whole
        read): the changes the change log holds past its position can be applied to it."""
        return self._version is not None and not self.whole.stale

    def invalidate_all(self) -> None:
        """Notices may have been missed (listener reconnect, database back): drop the GET
        cache; the next read of the version waits for the whole catalog to be read again
        (the selector's cheap `peek_snapshot` keeps the previous one meanwhile)."""
        self.tools.clear()
        self.whole.invalidate()

    def add_change_listener(self, callback: Callable[[ChangeNotice], None]) -> None:
        self.follower.add_change_listener(callback)

    async def reread(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Bring the version up to date with the database for `names` (or everything), and
        drop their GET cache entries (rereads.py)."""
        await self.rereads.reread(names, everything=everything)

    def forget(self, names: Sequence[str], *, everything: bool = False) -> None:
        """A change made elsewhere: GET entries dropped now, the version re-read beside the
        readers (rereads.py)."""
        self.rereads.forget(names, everything=everything)

    async def close(self) -> None:
        await self.rereads.close()
        task = self.follower.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self.whole.close()
