"""ToolCatalogService: the one place that reads and writes the catalog.

Every write is one transaction that updates the tool rows, appends `tool_versions`, appends
`tool_audit_log`, bumps the catalog generation and sends a change notification (delivered by
PostgreSQL only if the transaction commits). Reads go through the in-process cache.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from toolcatalog import metrics
from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.changes import ChangeNotice, notify_change
from toolcatalog.catalog.documents import (
    canonical_definition,
    diff_documents,
    make_etag,
    merge_patch,
)
from toolcatalog.catalog.migration import ImportedHistory
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.config import Settings
from toolcatalog.errors import (
    Conflict,
    InvalidDefinition,
    NotFound,
    PreconditionFailed,
    Problem,
    StoredDefinitionInvalid,
)
from toolcatalog.formats.problems import (
    nesting_problems,
    nul_problems,
    problems_from_validation,
)
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Status, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store import audit as audit_store
from toolcatalog.store import tool_listing
from toolcatalog.store import tools as tool_store
from toolcatalog.store import versions as version_store
from toolcatalog.store import vocabulary as vocabulary_store
from toolcatalog.store.audit import AuditRecord, AuditWrite
from toolcatalog.store.database import Database
from toolcatalog.store.tool_listing import ToolFilter
from toolcatalog.store.tools import ToolRecord, ToolWrite
from toolcatalog.store.versions import VersionRecord, VersionWrite

log = logging.getLogger(__name__)

SNAPSHOT_KEY = "snapshot"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is writing, for the audit log."""

    name: str = "system"
    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class CachedTool:
    """A tool ready to serve: the model, its JSON body encoded once, and its validators."""

    tool: Tool
    body: bytes
    etag: str
    revision: int
    created_at: datetime
    updated_at: datetime
    id: int = 0  # the row's id (the seed's clients read `id`)


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False
    generation: int | None = None
    history: tuple[int, int] = (0, 0)  # migrated audit entries and telemetry rows written

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated)


@dataclass(frozen=True, slots=True)
class ToolPage:
    items: list[tuple[Tool, ToolRecord]]
    next_cursor: str | None
    total: int


def encode_cursor(name: str, rank: float) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([name, rank])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, float]:
    try:
        name, rank = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return str(name), float(rank)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidDefinition(
            "the cursor is not one this server made",
            [Problem("cursor", "pass back the next_cursor of the previous page unchanged")],
        ) from None


def _record_to_cached(record: ToolRecord, tool: Tool) -> CachedTool:
    return CachedTool(
        tool=tool,
        body=orjson.dumps(record.definition),
        etag=record.etag,
        revision=record.revision,
        created_at=record.created_at,
        updated_at=record.updated_at,
        id=record.id,
    )


def _check_if_match(record: ToolRecord, if_match: str | None) -> None:
    if if_match is None:
        return
    candidates = {t.strip() for t in if_match.split(",")}
    if "*" in candidates:
        return
    weakless = {c.removeprefix("W/") for c in candidates}
    if record.etag not in weakless:
        raise PreconditionFailed(
            f"tool {record.name!r} has changed (current ETag {record.etag}); "
            "fetch it again and reapply your change"
        )


class ToolCatalogService:
    """Reads (cached) and writes (transactional, audited, published) of the catalog."""

    def __init__(self, db: Database, settings: Settings, *, instance_id: str = "local") -> None:
        self.db = db
        self.settings = settings
        self.instance_id = instance_id
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
        self.reloads: deque[dict[str, Any]] = deque(maxlen=100)
        self.invalid = InvalidStoredTools()

    # ---------------------------------------------------------------- reads

    async def get_tool(self, name: str) -> CachedTool:
        """The tool by name, from the cache when possible. Raises NotFound."""
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
        return _record_to_cached(record, self.invalid.validate_one(record))

    def peek_tool(self, name: str) -> CachedTool | None:
        """A cached tool even if stale (for serving while the database is away)."""
        return self.tools.peek(name, allow_stale=True)

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        """Every tool with capabilities and patterns, as one immutable snapshot (cached)."""
        return await self.snapshots.get_or_load(SNAPSHOT_KEY, self._load_snapshot)

    def peek_snapshot(self) -> CatalogSnapshot | None:
        """The cached snapshot while it is fresh (no I/O, not counted), else None: the selector
        reads it on every request and awaits get_all_tools_with_structure only on None."""
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
        # Validation is CPU work (~0.25 ms a tool); off the event loop for large catalogs so
        # cached reads keep flowing meanwhile.
        if len(records) > 100:
            tools = await asyncio.to_thread(self.invalid.validate_all, records, whole=True)
        else:
            tools = self.invalid.validate_all(records, whole=True)
        vocabulary = Vocabulary(vocabulary=entries) if entries else None
        return CatalogSnapshot(tools, generation, datetime.now(UTC), vocabulary)

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
        return CatalogSnapshot(tools, generation, datetime.now(UTC), previous.vocabulary)

    async def list_tools(
        self, filters: ToolFilter, *, limit: int = 50, cursor: str | None = None
    ) -> ToolPage:
        """One page of tools matching `filters`; `cursor` is the previous page's next_cursor.
        Raises InvalidDefinition for a cursor that was not made by us."""
        after_name, after_rank = decode_cursor(cursor) if cursor else (None, None)
        async with self.db.connection("list_tools") as conn:
            rows = await tool_listing.list_tools(
                conn, filters, limit=limit + 1, after_name=after_name, after_rank=after_rank
            )
            total = await tool_listing.count_matching(conn, filters)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].record.name, rows[-1].rank) if more else None
        tools = [self._tool_of(r.record) for r in rows]
        return ToolPage(
            [(t, r.record) for t, r in zip(tools, rows, strict=True) if t is not None],
            next_cursor,
            total,
        )

    def _tool_of(self, record: ToolRecord) -> Tool | None:
        """The record's model: the cached one when its ETag is the same (validation is most of
        a list request's CPU: ~13 ms for 50 rows), else validated afresh; None (left out of
        the page) when it no longer validates. Never stored: only the cache's own loads may
        store (they know about invalidations that race them)."""
        cached = self.tools.peek(record.name, allow_stale=True)
        if cached is not None and cached.etag == record.etag:
            return cached.tool
        try:
            return self.invalid.validate_one(record)
        except StoredDefinitionInvalid:
            return None

    async def capability_index(self) -> dict[str, list[str]]:
        async with self.db.connection("capability_index") as conn:
            return await tool_listing.capability_index(conn)

    async def tool_count(self) -> int:
        async with self.db.connection("count_tools") as conn:
            return await tool_store.count_tools(conn)

    async def versions(self, name: str) -> list[VersionRecord]:
        async with self.db.connection("fetch_versions") as conn:
            record = await self._require(conn, name)
            return await version_store.fetch_versions(conn, record.id)

    async def version(self, name: str, revision: int) -> VersionRecord:
        async with self.db.connection("fetch_version") as conn:
            record = await self._require(conn, name)
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

    @staticmethod
    async def _require(conn: Any, name: str, *, for_update: bool = False) -> ToolRecord:
        record = await tool_store.fetch_tool(conn, name, for_update=for_update)
        if record is None:
            raise NotFound(f"no tool named {name!r}")
        return record

    # ---------------------------------------------------------------- writes

    async def import_definitions(
        self,
        tools: Sequence[Tool],
        *,
        actor: Actor = Actor(),
        overwrite: bool = True,
        dry_run: bool = False,
        vocabulary: Vocabulary | None = None,
        history: ImportedHistory | None = None,
    ) -> ImportReport:
        """Create or update many tools in one transaction: all or nothing.

        Unchanged tools are left alone (no version, no audit entry), so importing the same
        files twice changes nothing. With `overwrite=False` existing tools are skipped.
        `dry_run` runs the whole transaction, including database constraints, then rolls
        it back. `history` (migrated from the seed) is written, once, for the tools this
        import creates or changes, in the same transaction.
        """
        _refuse_duplicate_names(tools)
        report = ImportReport(dry_run=dry_run)
        try:
            async with self.db.transaction("import") as conn:
                existing = await tool_store.fetch_tools(
                    conn, [t.name for t in tools], for_update=True
                )
                inserts: list[ToolWrite] = []
                updates: list[tuple[ToolWrite, ToolRecord]] = []
                for tool in tools:
                    definition = canonical_definition(tool)
                    old = existing.get(tool.name)
                    if old is None:
                        inserts.append(ToolWrite(tool, definition, 1, make_etag(definition, 1)))
                        report.created.append(tool.name)
                    elif old.definition == definition:
                        report.unchanged.append(tool.name)
                    elif not overwrite:
                        report.skipped.append(tool.name)
                    else:
                        rev = old.revision + 1
                        updates.append(
                            (ToolWrite(tool, definition, rev, make_etag(definition, rev)), old)
                        )
                        report.updated.append(tool.name)
                vocabulary_changed = False
                if vocabulary is not None:
                    vocabulary_changed = await vocabulary_store.replace_vocabulary(
                        conn, vocabulary.vocabulary
                    )
                if report.changed or vocabulary_changed:
                    ids = await tool_store.insert_tools(conn, inserts)
                    ids |= await tool_store.update_tools(conn, [w for w, _ in updates])
                    await self._record_history(
                        conn,
                        actor,
                        [(w, None, ids[w.tool.name]) for w in inserts]
                        + [(w, old, ids[w.tool.name]) for w, old in updates],
                        action="import",
                    )
                    if history is not None:
                        changed = {*report.created, *report.updated}
                        report.history = await history.write(conn, changed)
                    report.generation = await self._publish(
                        conn, [*report.created, *report.updated], everything=vocabulary_changed
                    )
                if dry_run:
                    raise _DryRunRollback
        except _DryRunRollback:
            report.generation = None
            return report
        if report.changed or report.generation is not None:
            self._invalidate_locally([*report.created, *report.updated], everything=True)
        return report

    async def create_tool(self, tool: Tool, *, actor: Actor = Actor()) -> CachedTool:
        async with self.db.transaction("create_tool") as conn:
            if await tool_store.fetch_tool(conn, tool.name) is not None:
                raise Conflict(f"a tool named {tool.name!r} already exists; use PUT to replace it")
            definition = canonical_definition(tool)
            write = ToolWrite(tool, definition, 1, make_etag(definition, 1))
            ids = await tool_store.insert_tools(conn, [write])
            await self._record_history(conn, actor, [(write, None, ids[tool.name])], "create")
            await self._publish(conn, [tool.name])
            record = await self._require(conn, tool.name)
        self._invalidate_locally([tool.name])
        return self._cache_fresh(record)

    async def replace_tool(
        self,
        name: str,
        tool: Tool,
        *,
        if_match: str | None = None,
        actor: Actor = Actor(),
        action: str = "update",
    ) -> CachedTool:
        """Full replace of an existing tool. A stale `if_match` raises PreconditionFailed and
        changes nothing; concurrent writers serialise on the row lock."""
        return await self._update(
            name, lambda _old: tool, if_match=if_match, actor=actor, action=action
        )

    async def patch_tool(
        self,
        name: str,
        patch: dict[str, Any],
        *,
        if_match: str | None = None,
        actor: Actor = Actor(),
    ) -> CachedTool:
        """Apply an RFC 7396 merge patch to the stored definition and revalidate it."""
        if deep := nesting_problems(patch):
            raise InvalidDefinition("the merge patch nests too deeply", deep)
        return await self._update(
            name,
            lambda old: validate_tool(merge_patch(old.definition, patch)),
            if_match=if_match,
            actor=actor,
            action="patch",
        )

    async def set_enabled(
        self, name: str, enabled: bool, *, actor: Actor = Actor(), if_match: str | None = None
    ) -> CachedTool:
        return await self._update(
            name,
            lambda old: validate_tool({**old.definition, "enabled": enabled}),
            if_match=if_match,
            actor=actor,
            action="enable" if enabled else "disable",
        )

    async def delete_tool(
        self,
        name: str,
        *,
        purge: bool = False,
        actor: Actor = Actor(),
        if_match: str | None = None,
    ) -> CachedTool | None:
        """Soft delete (status disabled, kept in history) or, with `purge`, remove the rows;
        the audit log keeps the trail either way."""
        if not purge:
            disabled = {"status": Status.disabled.value, "enabled": False}
            return await self._update(
                name,
                lambda old: validate_tool({**old.definition, **disabled}),
                if_match=if_match,
                actor=actor,
                action="delete",
            )
        async with self.db.transaction("purge_tool") as conn:
            old = await self._require(conn, name, for_update=True)
            _check_if_match(old, if_match)
            await tool_store.delete_tool(conn, old.id)
            await audit_store.insert_audit(
                conn,
                [
                    AuditWrite(
                        actor.name,
                        "purge",
                        name,
                        old.revision,
                        None,
                        [{"op": "remove", "path": "$", "from": old.definition}],
                        actor.request_id,
                        actor.client_address,
                    )
                ],
            )
            await self._publish(conn, [name])
        self._invalidate_locally([name])
        return None

    async def roll_back_tool(
        self, name: str, revision: int, *, actor: Actor = Actor(), if_match: str | None = None
    ) -> CachedTool:
        """Make revision `revision` current again, as a new revision (history is never
        rewritten)."""
        old_version = await self.version(name, revision)
        tool = validate_tool(old_version.definition)
        return await self._update(
            name, lambda _old: tool, if_match=if_match, actor=actor, action="rollback"
        )

    async def _update(
        self,
        name: str,
        build: Callable[[ToolRecord], Tool],
        *,
        if_match: str | None,
        actor: Actor,
        action: str,
    ) -> CachedTool:
        """The one read-modify-write: lock the row, check `if_match`, build the new
        definition from the locked current one, write it with its version and audit entry.
        Building under the lock means concurrent writers without If-Match never lose each
        other's changes and never see a 412 they did not ask for. An unchanged result
        writes nothing."""
        async with self.db.transaction(f"{action}_tool") as conn:
            old = await self._require(conn, name, for_update=True)
            _check_if_match(old, if_match)
            tool = build(old)
            if tool.name != name:
                raise InvalidDefinition(
                    f"the body names tool {tool.name!r} but the URL names {name!r}",
                    [Problem("name", f"must be {name!r} (renaming is not supported)")],
                )
            definition = canonical_definition(tool)
            if definition == old.definition:
                return self._cache_fresh(old)
            rev = old.revision + 1
            write = ToolWrite(tool, definition, rev, make_etag(definition, rev))
            await tool_store.update_tools(conn, [write])
            await self._record_history(conn, actor, [(write, old, old.id)], action)
            await self._publish(conn, [name])
            record = await self._require(conn, name)
        self._invalidate_locally([name])
        return self._cache_fresh(record)

    async def _fresh_record(self, name: str) -> ToolRecord:
        async with self.db.connection("fetch_tool") as conn:
            return await self._require(conn, name)

    async def _record_history(
        self,
        conn: Any,
        actor: Actor,
        writes: list[tuple[ToolWrite, ToolRecord | None, int]],
        action: str,
    ) -> None:
        await version_store.insert_versions(
            conn,
            [
                VersionWrite(tid, w.revision, w.definition, actor.name, action)
                for w, _, tid in writes
            ],
        )
        await audit_store.insert_audit(
            conn,
            [
                AuditWrite(
                    actor=actor.name,
                    action=action if action != "import" or old is None else "update",
                    tool_name=w.tool.name,
                    revision_before=old.revision if old else None,
                    revision_after=w.revision,
                    diff=diff_documents(old.definition if old else {}, w.definition),
                    request_id=actor.request_id,
                    client_address=actor.client_address,
                )
                for w, old, _ in writes
            ],
        )

    async def _publish(self, conn: Any, names: list[str], *, everything: bool = False) -> int:
        generation = await tool_store.bump_generation(conn)
        await notify_change(
            conn, ChangeNotice(self.instance_id, generation, tuple(names), everything)
        )
        return generation

    def _cache_fresh(self, record: ToolRecord) -> CachedTool:
        cached = _record_to_cached(record, Tool.model_validate(record.definition))
        self.tools.put(record.name, cached)
        return cached

    async def reload_all(self, *, trigger: str = "api", actor: Actor = Actor()) -> int:
        """Invalidate every replica's caches (through NOTIFY) and reload the snapshot here.
        Counted and timed; returns the new catalog generation."""
        start = time.perf_counter()
        entry: dict[str, Any] = {
            "started_at": datetime.now(UTC).isoformat(),
            "trigger": trigger,
            "actor": actor.name,
        }
        try:
            async with self.db.transaction("reload") as conn:
                await audit_store.insert_audit(
                    conn,
                    [AuditWrite(actor.name, "reload", None, None, None, [],
                                actor.request_id, actor.client_address)],
                )  # fmt: skip
                generation = await self._publish(conn, [], everything=True)
            self.invalidate_all()
            snapshot = await self.get_all_tools_with_structure()
        except Exception as exc:
            metrics.RELOAD_ERRORS.inc()
            entry |= {"success": False, "error": str(exc)}
            raise
        else:
            entry |= {"success": True, "generation": generation, "tools": len(snapshot.tools)}
            return generation
        finally:
            elapsed = time.perf_counter() - start
            metrics.RELOADS.labels(trigger).inc()
            metrics.RELOAD_DURATION.observe(elapsed)
            entry["duration_ms"] = round(elapsed * 1000, 3)
            self.reloads.append(entry)

    # ---------------------------------------------------------------- invalidation

    def _invalidate_locally(self, names: Sequence[str], *, everything: bool = False) -> None:
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
        if notice.origin != self.instance_id:
            metrics.NOTIFY_MESSAGES.labels("all" if notice.everything else "tools").inc()
            self._invalidate_locally(notice.names, everything=notice.everything)
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


class _DryRunRollback(Exception):
    """Raised inside a dry-run transaction to roll it back."""


def _refuse_duplicate_names(tools: Sequence[Tool]) -> None:
    seen: set[str] = set()
    problems = []
    for i, tool in enumerate(tools):
        if tool.name in seen:
            problems.append(Problem(f"[{i}].name", f"tool {tool.name!r} appears twice"))
        seen.add(tool.name)
    if problems:
        raise InvalidDefinition("the same tool is defined more than once", problems)


def validate_tool(data: Any) -> Tool:
    """Validate a tool document, raising InvalidDefinition with every problem's JSON path."""
    if not isinstance(data, dict):
        raise InvalidDefinition(
            "a tool definition must be a JSON object",
            [Problem("", f"expected an object, found {type(data).__name__}")],
        )
    if deep := nesting_problems(data):
        raise InvalidDefinition("the definition nests too deeply", deep)
    nul = nul_problems(data)
    if nul:
        raise InvalidDefinition("the definition contains NUL characters", nul)
    try:
        return Tool.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc)
        raise InvalidDefinition(f"{len(problems)} problem(s) in the definition", problems) from None
