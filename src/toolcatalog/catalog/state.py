"""CatalogState: the catalog as this process holds it in memory, and the one place that
forgets what a change made stale (after our own writes, and on notices from other replicas).

Tools are cached one by one (bytes and ETag encoded once); the whole catalog with its
structure is kept as one immutable snapshot for the selector, refreshed by re-reading only
the tools changed since it was read when that is known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson

from toolcatalog import metrics
from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.catalog.views import CachedTool
from toolcatalog.config import Settings
from toolcatalog.errors import NotFound, StoredDefinitionInvalid
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Status, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store import environments as environment_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store import vocabulary as vocabulary_store
from toolcatalog.store.database import Database
from toolcatalog.store.tools import ToolRecord

SNAPSHOT_KEY = "snapshot"


def record_to_cached(record: ToolRecord, tool: Tool) -> CachedTool:
    return CachedTool(
        tool=tool,
        body=orjson.dumps(record.definition),
        etag=record.etag,
        revision=record.revision,
        created_at=record.created_at,
        updated_at=record.updated_at,
        id=record.id,
    )


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
        self.snapshots: AsyncLRUCache[CatalogSnapshot] = AsyncLRUCache(
            "snapshot", 1, settings.cache_ttl_s
        )
        # What changed since the cached snapshot was read: the next load re-reads only these
        # tools (None: everything must be re-read).
        self._last_snapshot: CatalogSnapshot | None = None
        self._changed_names: set[str] | None = None
        self._listeners: list[Callable[[ChangeNotice], None]] = []
        self.invalid = InvalidStoredTools()

    # ---------------------------------------------------------------- one tool

    async def get_tool(self, name: str) -> CachedTool:
        """The tool by name, from memory when possible. Raises NotFound."""
        return await self.tools.get_or_load(name, lambda: self._load_tool(name))

    async def get_tool_or_stale(self, name: str, wait_s: float) -> tuple[CachedTool, bool]:
        """`get_tool`, except that an expired cached tool whose reload takes longer than
        `wait_s` is answered as it was, flagged stale (True)."""
        return await self.tools.get_or_stale(name, lambda: self._load_tool(name), wait_s)

    async def _load_tool(self, name: str) -> CachedTool:
        async with self.db.connection("fetch_tool") as conn:
            record = await tool_store.fetch_tool(conn, name)
        if record is None:
            raise NotFound(f"no tool named {name!r}")
        return record_to_cached(record, self.invalid.validate_one(record))

    def peek_tool(self, name: str) -> CachedTool | None:
        """A cached tool even if stale (for serving while the database is away)."""
        return self.tools.peek(name, allow_stale=True)

    def view_of(self, record: ToolRecord) -> CachedTool | None:
        """The record ready to serve: the cached one when its ETag is the same (validation is
        most of a list request's CPU: ~13 ms for 50 rows), else built afresh; None (left out
        of the page) when it no longer validates. Never stored: only the cache's own loads may
        store (they know about invalidations that race them)."""
        cached = self.tools.peek(record.name, allow_stale=True)
        if cached is not None and cached.etag == record.etag:
            return cached
        try:
            return record_to_cached(record, self.invalid.validate_one(record))
        except StoredDefinitionInvalid:
            return None

    def written(self, record: ToolRecord) -> CachedTool:
        """A tool as our own committed write left it: cached at once."""
        cached = record_to_cached(record, Tool.model_validate(record.definition))
        self.tools.put(record.name, cached)
        return cached

    # ---------------------------------------------------------------- the whole catalog

    async def snapshot(self) -> CatalogSnapshot:
        """Every tool with capabilities and patterns, as one immutable snapshot (cached)."""
        return await self.snapshots.get_or_load(SNAPSHOT_KEY, self._load_snapshot)

    def peek_snapshot(self) -> CatalogSnapshot | None:
        return self.snapshots.peek(SNAPSHOT_KEY)

    async def _load_snapshot(self) -> CatalogSnapshot:
        """Re-read only the tools changed since the last snapshot when that is known (a write
        touches a few tools; re-validating 200 or 10,000 for each one would stall every
        selection), else the whole catalog. An expired snapshot is always read whole."""
        start = time.perf_counter()
        changed, self._changed_names = self._changed_names, set()
        previous = self._last_snapshot
        try:
            if previous is not None and changed:
                snapshot = await self._refresh_snapshot(previous, changed)
            else:
                snapshot = await self._read_whole_snapshot()
        except BaseException:
            # Not read: what changed is still unread next time.
            if changed is None or self._changed_names is None:
                self._changed_names = None
            else:
                self._changed_names |= changed
            raise
        self._last_snapshot = snapshot
        metrics.CATALOG_LOAD_DURATION.observe(time.perf_counter() - start)
        metrics.CATALOG_GENERATION.set(snapshot.generation)
        counts: dict[str, int] = {s.value: 0 for s in Status}
        for tool in snapshot.tools:
            counts[tool.status.value] += 1
        for status, n in counts.items():
            metrics.TOOLS.labels(status).set(n)
        return snapshot

    async def _read_whole_snapshot(self) -> CatalogSnapshot:
        async with self.db.snapshot_read("load_catalog") as conn:
            generation = await tool_store.fetch_generation(conn)
            records = await tool_store.fetch_all_tools(conn)
            entries = await vocabulary_store.fetch_vocabulary(conn)
            environments = await environment_store.fetch_environments(conn)
        # Validation is CPU work (~0.25 ms a tool); off the event loop for large catalogs so
        # cached reads keep flowing meanwhile.
        if len(records) > 100:
            tools = await asyncio.to_thread(self.invalid.validate_all, records, whole=True)
        else:
            tools = self.invalid.validate_all(records, whole=True)
        vocabulary = Vocabulary(vocabulary=entries) if entries else None
        return CatalogSnapshot(
            tools, generation, datetime.now(UTC), vocabulary, environments=environments
        )

    async def _refresh_snapshot(
        self, previous: CatalogSnapshot, names: set[str]
    ) -> CatalogSnapshot:
        async with self.db.snapshot_read("refresh_catalog") as conn:
            generation = await tool_store.fetch_generation(conn)
            records = await tool_store.fetch_tools(conn, sorted(names))
        read = self.invalid.validate_all(list(records.values()), whole=False)
        fresh = {t.name: t for t in read}
        kept = [t for t in previous.tools if t.name not in names]
        tools = tuple(sorted([*kept, *fresh.values()], key=lambda t: t.name))
        return CatalogSnapshot(
            tools,
            generation,
            datetime.now(UTC),
            previous.vocabulary,
            environments=previous.environments,
        )

    # ---------------------------------------------------------------- changes

    def forget(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Drop what a change to `names` (or to everything) made stale."""
        if everything or len(names) > self.settings.cache_max_size // 2:
            self.tools.clear()
        else:
            for name in names:
                self.tools.invalidate(name)
            self.invalid.forget(names)  # re-checked when next read
        if everything or not names or self._changed_names is None:
            self._changed_names = None
        else:
            self._changed_names.update(names)
        self.snapshots.clear()

    def apply_change(self, notice: ChangeNotice) -> None:
        """A change made elsewhere (another replica, or ours echoed back): drop what it
        touched. Called by the change listener."""
        if notice.origin != self.origin:
            metrics.NOTIFY_MESSAGES.labels("all" if notice.everything else "tools").inc()
            self.forget(notice.names, everything=notice.everything)
        # Our own notice echoed back: the write already invalidated here right after its
        # commit, and dropping again would only throw away what was re-cached since.
        for listener in list(self._listeners):
            listener(notice)

    def invalidate_all(self) -> None:
        """Forget everything cached (reload, listener reconnect, database back)."""
        self.tools.clear()
        self._changed_names = None
        self.snapshots.clear()

    def add_change_listener(self, callback: Callable[[ChangeNotice], None]) -> None:
        self._listeners.append(callback)
