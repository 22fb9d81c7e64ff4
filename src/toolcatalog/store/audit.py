"""SQL for tool_audit_log: who changed what, when, with a diff. Append-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from toolcatalog.model.history import AuditRecord


@dataclass(frozen=True, slots=True)
class AuditWrite:
    actor: str
    action: str
    tool_name: str | None
    revision_before: int | None
    revision_after: int | None
    diff: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None
    client_address: str | None = None
    occurred_at: datetime | None = None  # None: now; set when history is migrated
    # A creation's diff by reference (migration 0009): the top-level fields of the tool's
    # version `revision_after`, in the document's order, each added with its value; `diff`
    # is then empty and the reader expands the entry (fetch_audit).
    added_fields: list[str] | None = None


def row_to_audit(row: Any) -> AuditRecord:
    return AuditRecord(**{k: row[k] for k in AuditRecord.__slots__})


async def insert_audit(conn: Any, entries: Sequence[AuditWrite]) -> None:
    # COPY writes every named column, so entries that take the default time go without it.
    for dated in (False, True):
        batch = [e for e in entries if (e.occurred_at is not None) is dated]
        columns = [*_WRITE_COLUMNS, "occurred_at"] if dated else list(_WRITE_COLUMNS)
        if batch:
            await conn.copy_records_to_table(
                "tool_audit_log",
                schema_name="tool_catalog",
                columns=columns,
                records=[tuple(getattr(e, c) for c in columns) for e in batch],
            )


async def fetch_tools_audited_by(conn: Any, actor: str, names: Sequence[str]) -> set[str]:
    """Which of `names` have an entry by `actor` (a marker such as a migration's)."""
    rows = await conn.fetch(
        "SELECT DISTINCT tool_name FROM tool_audit_log WHERE actor = $1 AND tool_name = ANY($2)",
        actor,
        list(names),
    )
    return {r["tool_name"] for r in rows}


_WRITE_COLUMNS = (
    "actor", "action", "tool_name", "revision_before", "revision_after", "diff", "request_id",
    "client_address", "added_fields",
)  # fmt: skip

# An entry's diff as the API shows it: stored in full, or a creation's by reference
# (`added_fields`) expanded from its version into what diff_documents({}, definition) made
# (one "add" a field, in the stored order; jsonb_build_object orders an entry's keys as jsonb
# stored the full diff's). An entry whose version is gone reads as an empty diff (a purge
# writes the entries it would orphan in full first: materialise_added_fields).
_DIFF = """
    CASE WHEN a.added_fields IS NULL THEN a.diff ELSE coalesce((
        SELECT jsonb_agg(jsonb_build_object('op', 'add', 'path', f.key, 'to', v.definition -> f.key)
                         ORDER BY f.ord)
        FROM tools AS t
        JOIN tool_versions AS v ON v.tool_id = t.id AND v.revision = a.revision_after
        CROSS JOIN unnest(a.added_fields) WITH ORDINALITY AS f(key, ord)
        WHERE t.name = a.tool_name), '[]'::jsonb) END
"""


async def materialise_added_fields(conn: Any, tool_name: str) -> None:
    """Write the entries of `tool_name` kept by reference in full, from its versions: before
    a purge deletes them (the entries outlive the tool; a tool created later under the same
    name has versions of its own)."""
    await conn.execute(
        f"UPDATE tool_audit_log AS a SET diff = {_DIFF}, added_fields = NULL "  # noqa: S608 - constant
        "WHERE a.tool_name = $1 AND a.added_fields IS NOT NULL",
        tool_name,
    )


async def fetch_audit(
    conn: Any,
    *,
    actor: str | None = None,
    action: str | None = None,
    tool_name: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditRecord]:
    """Newest first; `before_id` continues a page (keyset pagination)."""
    rows = await conn.fetch(
        f"""
        SELECT a.id, a.occurred_at, a.actor, a.action, a.tool_name, a.revision_before,
               a.revision_after, {_DIFF} AS diff, a.request_id, a.client_address
        FROM tool_audit_log AS a
        WHERE ($1::text IS NULL OR a.actor = $1) AND ($2::text IS NULL OR a.action = $2)
          AND ($3::text IS NULL OR a.tool_name = $3)
          AND ($4::timestamptz IS NULL OR a.occurred_at >= $4)
          AND ($5::bigint IS NULL OR a.id < $5)
        ORDER BY a.id DESC
        LIMIT $6
        """,  # noqa: S608 - constant SQL; every value is a $n parameter
        actor,
        action,
        tool_name,
        since,
        before_id,
        limit,
    )
    return [row_to_audit(r) for r in rows]
