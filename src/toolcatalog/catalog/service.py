"""ToolCatalogService: the one object the doors and the selector read and write the catalog
through. Reads are answered from this process's CatalogState (state.py); writes are
CatalogWrites (writes.py) and CatalogImports (imports.py); history and audit are read from
the database as they are asked.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.catalog.documents import diff_documents
from toolcatalog.catalog.imports import CatalogImports, ImportReport
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.registry import RegistryServer, registry_servers
from toolcatalog.catalog.state import CatalogState
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool, ToolPage, decode_cursor, encode_cursor
from toolcatalog.catalog.writes import Actor, require_tool, validate_tool
from toolcatalog.config import Settings
from toolcatalog.errors import NotFound
from toolcatalog.model.history import AuditRecord, VersionRecord, VersionSummary
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.store import audit as audit_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store import versions as version_store
from toolcatalog.store.database import Database

# Up to this many tools a search's first answer is ranked on the loop (a few ms at most).
_RANK_INLINE_TOOLS = 2000

# The names callers have imported from here since before the split.
__all__ = [
    "Actor",
    "CachedTool",
    "ImportReport",
    "ToolCatalogService",
    "ToolPage",
    "validate_tool",
]


class ToolCatalogService(CatalogImports):
    """Reads (from memory) and writes (transactional, audited, published) of the catalog."""

    def __init__(self, db: Database, settings: Settings, *, instance_id: str = "local") -> None:
        super().__init__(
            db, CatalogState(db, settings, origin=instance_id), instance_id=instance_id
        )
        self.settings = settings
        self.invalid = self.state.invalid
        self._registry: tuple[object, str, list[RegistryServer]] | None = None
        # Full-text rankings being computed beside the loop, by version and query.
        self._ranking: dict[tuple[CatalogVersion, ToolFilter], asyncio.Future[Ranked]] = {}

    # ---------------------------------------------------------------- reads

    async def get_tool(self, name: str) -> CachedTool:
        """The tool by name. Raises NotFound."""
        return await self.state.get_tool(name)

    async def get_tool_or_stale(self, name: str, wait_s: float) -> tuple[CachedTool, bool]:
        """`get_tool`, except that an expired cached tool whose reload takes longer than
        `wait_s` is answered as it was, flagged stale (True)."""
        return await self.state.get_tool_or_stale(name, wait_s)

    def peek_tool(self, name: str) -> CachedTool | None:
        """A cached tool even if stale (for serving while the database is away)."""
        return self.state.peek_tool(name)

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        """Every tool with capabilities and patterns, as one immutable snapshot."""
        return await self.state.snapshot()

    def peek_snapshot(self) -> CatalogSnapshot | None:
        """The snapshot while it is fresh (no I/O, not counted), else None: the selector reads
        it on every request and awaits get_all_tools_with_structure only on None."""
        return self.state.peek_snapshot()

    async def catalog_version(self) -> CatalogVersion:
        """The current catalog version (version.py): every tool as served, with the indexes
        made once a version (filter values, texts for parts, rankings)."""
        return await self.state.version()

    def peek_version(self) -> CatalogVersion | None:
        """The current catalog version without I/O (None before the first fill)."""
        return self.state.peek_version()

    async def with_columns(self, version: CatalogVersion, columns: Iterable[str]) -> CatalogVersion:
        """`version` with its texts of `columns` made (version.names_containing): beside the
        loop for a large catalog (a walk of every tool, ~10-30 ms at 100,000 tools); made,
        a needle costs a C scan of each column (~1-4 ms at 100,000)."""
        columns = tuple(columns)
        if not version.holds_columns(columns):
            if len(version.names) > _RANK_INLINE_TOOLS:
                await asyncio.to_thread(version.make_columns, columns)
            else:
                version.make_columns(columns)
        return version

    async def mcp_servers(self, namespace: str) -> list[RegistryServer]:
        """The MCP servers tools were imported from (catalog.registry), by registry name;
        rebuilt once per catalog version."""
        version = await self.state.version()
        kept = self._registry
        if kept is None or kept[0] is not version or kept[1] != namespace:
            # A walk of every tool once a version: beside the loop for a large catalog.
            if len(version.names) > _RANK_INLINE_TOOLS:
                servers = await asyncio.to_thread(registry_servers, version.entries, namespace)
            else:
                servers = registry_servers(version.entries, namespace)
            kept = (version, namespace, servers)
            self._registry = kept
        return kept[2]

    async def list_tools(
        self, filters: ToolFilter, *, limit: int = 50, cursor: str | None = None
    ) -> ToolPage:
        """One page of tools matching `filters`; `cursor` is the previous page's next_cursor.
        Served from the current version, full-text queries (`q`) too, restricted to some
        fields (`search_fields`) or not (search_index.py).
        Raises InvalidDefinition for a cursor not made by us."""
        after_name, after_rank = decode_cursor(cursor) if cursor else (None, None)
        version = await self.state.version()
        if filters.capability is not None:
            # Aliases of the vocabulary name the same tools; an unknown name is refused.
            filters = replace(filters, capability=version.resolve_capability(filters.capability))
        big = len(version.names) > _RANK_INLINE_TOOLS
        if big and filters.updated_since is not None and not version.holds_stamps():
            # Once a version (a write carries it): a walk of every tool's updated_at.
            await asyncio.to_thread(version.updated_stamps)
        if not filters.q:
            items, more, total = version.page(filters, limit=limit, after_name=after_name)
            next_cursor = encode_cursor(items[-1].tool.name, 0.0) if more and items else None
            return ToolPage(items, next_cursor, total)
        everything = version.ranked_if_kept(filters)
        if everything is None:
            # ~20 us a matching tool: a large catalog's first answer is ranked beside the
            # loop (a query all 10,000 generated tools match: 1.6 s at load average 15).
            if len(version.names) > _RANK_INLINE_TOOLS:
                everything = await self._ranked_beside(version, filters)
            else:
                everything = version.ranked(filters)
        total = len(everything)
        start = 0
        if after_name is not None:
            # Descending (rank, name): the first past the cursor's (rank, name).
            start = bisect.bisect_right(
                everything, (-(after_rank or 0.0), _Desc(after_name)), key=_descending
            )
        ranked = [(n, r) for r, n in everything[start : start + limit + 1]]
        more = len(ranked) > limit
        ranked = ranked[:limit]
        next_cursor = encode_cursor(*ranked[-1]) if more else None
        # A tool the database has and this version not yet (a replica's write, heard within
        # a second) or no longer validating is left out of the page.
        found = [version.entries.get(name) for name, _ in ranked]
        return ToolPage([f for f in found if f is not None], next_cursor, total)

    async def _ranked_beside(self, version: CatalogVersion, filters: ToolFilter) -> Ranked:
        """`version.ranked(filters)` in a thread, once for all the requests asking it
        meanwhile (64 connections asking the same new query each ranked it before)."""
        key = (version, filters)
        ranking = self._ranking.get(key)
        if ranking is None:
            ranking = asyncio.ensure_future(asyncio.to_thread(version.ranked, filters))
            self._ranking[key] = ranking
            ranking.add_done_callback(lambda _: self._ranking.pop(key, None))
        # shield: one caller's cancellation must not cancel the ranking the others wait for.
        return await asyncio.shield(ranking)

    async def canonical_capability(self, name: str, *, strict: bool = True) -> str | None:
        """The canonical name of a capability named by itself or an alias. Unknown: raises
        InvalidDefinition naming the closest known names, or None when not `strict`."""
        version = await self.state.version()
        return version.resolve_capability(name) if strict else version.canonical_capability(name)

    async def capability_index(self) -> dict[str, tuple[str, ...]]:
        """Every capability name with the tools that offer it, by name (one dict a catalog
        version: the same object until the catalog changes)."""
        return (await self.state.version()).capability_index()

    async def tool_count(self) -> int:
        async with self.db.connection("count_tools") as conn:
            return await tool_store.count_tools(conn)

    async def versions(self, name: str) -> list[VersionRecord]:
        async with self.db.connection("fetch_versions") as conn:
            record = await require_tool(conn, name)
            return await version_store.fetch_versions(conn, record.id)

    async def version_summaries(self, name: str, *, limit: int) -> list[VersionSummary]:
        """The newest `limit` versions of the tool, newest first, without definitions."""
        async with self.db.connection("fetch_version_summaries") as conn:
            record = await require_tool(conn, name)
            return await version_store.fetch_version_summaries(conn, record.id, limit)

    async def version(self, name: str, revision: int) -> VersionRecord:
        async with self.db.connection("fetch_version") as conn:
            record = await require_tool(conn, name)
            found = await version_store.fetch_version(conn, record.id, revision)
        if found is None:
            raise NotFound(f"tool {name!r} has no version {revision}")
        return found

    async def diff(self, name: str, from_revision: int, to_revision: int) -> list[dict[str, Any]]:
        before = await self.version(name, from_revision)
        after = await self.version(name, to_revision)
        return diff_documents(before.definition, after.definition)

    async def audit(self, **filters: Any) -> list[AuditRecord]:
        async with self.db.connection("fetch_audit") as conn:
            return await audit_store.fetch_audit(conn, **filters)

    # ---------------------------------------------------------------- changes

    def apply_change(self, notice: ChangeNotice) -> None:
        """A change notice from the listener (another replica's write, or ours echoed)."""
        self.state.apply_change(notice)

    def invalidate_all(self) -> None:
        """Forget everything held (reload, listener reconnect, database back)."""
        self.state.invalidate_all()

    def add_change_listener(self, callback: Any) -> None:
        self.state.add_change_listener(callback)


class _Desc(str):
    """A name that sorts backwards, for a key ascending where names descend."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, other)  # type: ignore[operator]


def _descending(item: tuple[float, str]) -> tuple[float, _Desc]:
    return (-item[0], _Desc(item[1]))
