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
    "client_address",
)  # fmt: skip


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
        """
        SELECT id, occurred_at, actor, action, tool_name, revision_before, revision_after, diff,
               request_id, client_address
        FROM tool_audit_log
        WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2)
          AND ($3::text IS NULL OR tool_name = $3)
          AND ($4::timestamptz IS NULL OR occurred_at >= $4)
          AND ($5::bigint IS NULL OR id < $5)
        ORDER BY id DESC
        LIMIT $6
        """,
        actor,
        action,
        tool_name,
        since,
        before_id,
        limit,
    )
    return [row_to_audit(r) for r in rows]
