"""CatalogWrites: the changes to one tool (create, replace, patch, enable, delete, roll back),
an environment, or a reload. Each is validate, plan, apply in one transaction (tool rows,
`tool_versions`, `tool_audit_log`, a row of the catalog's change log and a notification that
PostgreSQL delivers only if it commits), then publish to this process's state right after the
commit. Imports of many tools at once are catalog/imports.py."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from toolcatalog import metrics
from toolcatalog.catalog.changes import MAX_NAMES, ChangeAnnouncer, ChangeNotice
from toolcatalog.catalog.documents import (
    canonical_definition,
    diff_documents,
    make_etag,
    merge_patch,
)
from toolcatalog.catalog.entries import tool_terms
from toolcatalog.catalog.environments import store_environment
from toolcatalog.catalog.state import CatalogState
from toolcatalog.catalog.views import CachedTool
from toolcatalog.catalog.write_queue import Planned, ToolWriteQueue
from toolcatalog.errors import Conflict, InvalidDefinition, NotFound, PreconditionFailed, Problem
from toolcatalog.formats.problems import (
    nesting_problems,
    nul_problems,
    problems_from_validation,
)
from toolcatalog.model.environment import EnvironmentRules
from toolcatalog.model.tool import Status, Tool
from toolcatalog.store import audit as audit_store
from toolcatalog.store import changes as change_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store import versions as version_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.changes import Published
from toolcatalog.store.database import Database
from toolcatalog.store.tools import ToolRecord, ToolWrite


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is writing, for the audit log."""

    name: str = "system"
    request_id: str | None = None
    client_address: str | None = None


def validate_tool(data: Any, *, walked: bool = False) -> Tool:
    """Validate a tool document, raising InvalidDefinition with every problem's JSON path.
    `walked`: its depth and NULs are known to be fine (a merge patch checked on its own over
    a stored definition: see patch_tool), so only the model validates it."""
    if not isinstance(data, dict):
        raise InvalidDefinition(
            "a tool definition must be a JSON object",
            [Problem("", f"expected an object, found {type(data).__name__}")],
        )
    if not walked:
        _check_walks(data, "the definition")
    try:
        return Tool.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc)
        raise InvalidDefinition(f"{len(problems)} problem(s) in the definition", problems) from None


def _check_walks(data: Any, what: str) -> None:
    if deep := nesting_problems(data):
        raise InvalidDefinition(f"{what} nests too deeply", deep)
    if nul := nul_problems(data):
        raise InvalidDefinition(f"{what} contains NUL characters", nul)


def check_if_match(record: ToolRecord, if_match: str | None) -> None:
    """Raise PreconditionFailed unless `if_match` (absent, `*`, or a list of ETags) names the
    record's current ETag. Strong comparison (RFC 9110 13.1.1): a weak tag (W/"...") never
    matches, even when its opaque part equals the current ETag."""
    if if_match is None:
        return
    candidates = {t.strip() for t in if_match.split(",")}
    if "*" in candidates:
        return
    if record.etag not in candidates:
        raise PreconditionFailed(
            f"tool {record.name!r} has changed (current ETag {record.etag}); "
            "fetch it again and reapply your change"
        )


async def require_tool(conn: Any, name: str, *, for_update: bool = False) -> ToolRecord:
    record = await tool_store.fetch_tool(conn, name, for_update=for_update)
    if record is None:
        raise NotFound(f"no tool named {name!r}")
    return record


def _planned(
    name: str,
    old: ToolRecord,
    build: Callable[[ToolRecord], Tool],
    if_match: str | None,
    actor: Actor,
    action: str,
) -> Planned | None:
    """The write of `build(old)`, its audit entry and the new tool's search lexemes
    (entries.tool_terms), or None when nothing changes: all of a write's CPU work, beside
    the loop when the write queue plans there. Raises PreconditionFailed (a stale `if_match`) or
    InvalidDefinition."""
    check_if_match(old, if_match)
    tool = build(old)
    if tool.name != name:
        raise InvalidDefinition(
            f"the body names tool {tool.name!r} but the URL names {name!r}",
            [Problem("name", f"must be {name!r} (renaming is not supported)")],
        )
    definition = canonical_definition(tool)
    if definition == old.definition:
        return None
    rev = old.revision + 1
    write = ToolWrite(tool, definition, rev, make_etag(definition, rev))
    return write, audit_entry(actor, action, write, old), tool_terms(tool, remembered=True)


def audit_entry(actor: Actor, action: str, write: ToolWrite, old: ToolRecord | None) -> AuditWrite:
    """The audit entry of one tool's write: an import's change of an existing tool is an
    update. A creation's diff (every field added) is kept by reference to the version it
    writes (store/audit.py's `added_fields`), not as the whole document once more."""
    return AuditWrite(
        actor=actor.name,
        action=action if action != "import" or old is None else "update",
        tool_name=write.tool.name,
        revision_before=old.revision if old else None,
        revision_after=write.revision,
        diff=diff_documents(old.definition, write.definition) if old else [],
        request_id=actor.request_id,
        client_address=actor.client_address,
        added_fields=None if old else list(write.definition),
    )


async def record_history(
    conn: Any,
    actor: Actor,
    writes: Sequence[tuple[ToolWrite, ToolRecord | None, int]],
    action: str,
    audits: Sequence[AuditWrite] | None = None,
) -> None:
    """The versions and audit entries of written tools ((write, old row or None, id)), in
    the caller's transaction; `audits`: the entries when the caller built them already."""
    await version_store.insert_current_versions(
        conn, [tid for _, _, tid in writes], actor.name, action
    )
    if audits is None:
        audits = [audit_entry(actor, action, w, old) for w, old, _ in writes]
    await audit_store.insert_audit(conn, audits)


class CatalogWrites:
    """The write half of ToolCatalogService. Every method is one transaction; the caller's
    state hears of the change right after the commit."""

    def __init__(self, db: Database, state: CatalogState, *, instance_id: str) -> None:
        self.db = db
        self.state = state
        self.instance_id = instance_id
        self.reloads: deque[dict[str, Any]] = deque(maxlen=100)
        self.announcer = ChangeAnnouncer(db)
        self.queue = ToolWriteQueue(db, state, self.announcer, instance_id=instance_id)

    async def create_tool(self, tool: Tool, *, actor: Actor = Actor()) -> CachedTool:
        async with self.db.transaction("create_tool") as conn:
            if await tool_store.fetch_tool(conn, tool.name) is not None:
                raise Conflict(f"a tool named {tool.name!r} already exists; use PUT to replace it")
            definition = canonical_definition(tool)
            write = ToolWrite(tool, definition, 1, make_etag(definition, 1))
            ids = await tool_store.insert_tools(conn, [write])
            await record_history(conn, actor, [(write, None, ids[tool.name])], "create")
            record = await require_tool(conn, tool.name)
            published = await self.publish(conn, [tool.name])
        self.announce(published, [tool.name])
        return self.state.written(record, published)

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
        """Apply an RFC 7396 merge patch to the stored definition and revalidate it.

        Depth and NULs are checked on the patch alone, not on the merged document (two
        walks of the whole definition, ~half of validating a 5 KB tool, on the event loop
        for most patches): a stored definition passed both when it was written (PostgreSQL
        cannot store NUL in text at all), every value of the merge comes from one of the
        two with its path unchanged, and a merged object is never deeper than the deeper
        of the two."""
        _check_walks(patch, "the merge patch")
        return await self._update(
            name,
            lambda old: validate_tool(merge_patch(old.definition, patch), walked=True),
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
            old = await require_tool(conn, name, for_update=True)
            check_if_match(old, if_match)
            await audit_store.materialise_added_fields(conn, name)
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
            published = await self.publish(conn, [name])
        self.announce(published, [name])
        self.state.removed(name, published)
        return None

    async def roll_back_tool(
        self, name: str, revision: int, *, actor: Actor = Actor(), if_match: str | None = None
    ) -> CachedTool:
        """Make revision `revision` current again, as a new revision (history is never
        rewritten)."""
        async with self.db.connection("fetch_version") as conn:
            record = await require_tool(conn, name)
            old_version = await version_store.fetch_version(conn, record.id, revision)
        if old_version is None:
            raise NotFound(f"tool {name!r} has no version {revision}")
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
        """The one read-modify-write: check `if_match` against the current row, build the
        new definition from it, and write it with its version and audit entry, in a batch
        with this process's other queued writes (write_queue.py: one round trip, the
        generation and the change notice once for the batch), provided the row has not moved
        meanwhile. When it has, the change is built again on the current row: concurrent
        writers without If-Match never lose each other's changes and never see a 412 they
        did not ask for, and a stale If-Match is a 412. An unchanged result writes
        nothing."""

        def plan(old: ToolRecord) -> Planned | None:
            return _planned(name, old, build, if_match, actor, action)

        return await self.queue.write(name, plan, operation=action)

    async def put_environment(
        self, name: str, rules: EnvironmentRules, *, actor: Actor = Actor()
    ) -> int:
        """Store one environment's rules (audited, a new revision) and reload every replica's
        snapshot through the change notice; returns the environment's revision."""
        async with self.db.transaction("put_environment") as conn:
            revision = await store_environment(conn, name, rules, actor)
            published = await self.publish(conn, [], everything=True)
        self.announce(published, [], everything=True)
        await self.state.reread([], everything=True)
        return revision

    async def publish(
        self, conn: Any, names: Sequence[str], *, everything: bool = False
    ) -> Published:
        """Record the change in the catalog's log (store/changes.py), in the caller's
        transaction: it counts once that commits, and no other writer waits for it. The
        caller then `announce`s it. Past MAX_NAMES tools it is logged, as noticed, as
        "everything"."""
        if len(names) > MAX_NAMES:
            names, everything = [], True
        return await change_store.publish_change(
            conn, self.instance_id, [] if everything else names, everything=everything
        )

    def announce(
        self, published: Published, names: Sequence[str], *, everything: bool = False
    ) -> None:
        """Notify the other replicas of a committed change (ChangeAnnouncer)."""
        notice = ChangeNotice(
            self.instance_id, published.generation, tuple(names), everything, change=published.id
        )
        self.announcer.announce(notice)

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
                published = await self.publish(conn, [], everything=True)
            self.announce(published, [], everything=True)
            generation = published.generation
            await self.state.reread([], everything=True)
            snapshot = await self.state.snapshot()
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
