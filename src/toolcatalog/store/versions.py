"""SQL for tool_versions: the append-only history of every tool's full definition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolcatalog.model.history import VersionRecord, VersionSummary


@dataclass(frozen=True, slots=True)
class VersionWrite:
    tool_id: int
    revision: int
    definition: dict[str, Any]
    actor: str
    action: str
    comment: str | None = None


def row_to_version(row: Any) -> VersionRecord:
    return VersionRecord(
        revision=row["revision"],
        definition=row["definition"],
        actor=row["actor"],
        action=row["action"],
        comment=row["comment"],
        created_at=row["created_at"],
    )


async def insert_versions(conn: Any, writes: Sequence[VersionWrite]) -> None:
    if not writes:
        return
    await conn.copy_records_to_table(
        "tool_versions",
        schema_name="tool_catalog",
        columns=["tool_id", "revision", "definition", "actor", "action", "comment"],
        records=[
            (w.tool_id, w.revision, w.definition, w.actor, w.action, w.comment) for w in writes
        ],
    )


async def fetch_versions(conn: Any, tool_id: int) -> list[VersionRecord]:
    rows = await conn.fetch(
        "SELECT revision, definition, actor, action, comment, created_at FROM tool_versions "
        "WHERE tool_id = $1 ORDER BY revision",
        tool_id,
    )
    return [row_to_version(r) for r in rows]


async def fetch_version_summaries(conn: Any, tool_id: int, limit: int) -> list[VersionSummary]:
    """The newest `limit` versions, newest first, without their definitions (a tool edited
    a thousand times would otherwise send a thousand definitions to list them)."""
    rows = await conn.fetch(
        "SELECT revision, definition->>'version' AS version, actor, action, comment, created_at "
        "FROM tool_versions WHERE tool_id = $1 ORDER BY revision DESC LIMIT $2",
        tool_id,
        limit,
    )
    return [
        VersionSummary(
            revision=r["revision"],
            version=r["version"],
            actor=r["actor"],
            action=r["action"],
            comment=r["comment"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def fetch_version(conn: Any, tool_id: int, revision: int) -> VersionRecord | None:
    row = await conn.fetchrow(
        "SELECT revision, definition, actor, action, comment, created_at FROM tool_versions "
        "WHERE tool_id = $1 AND revision = $2",
        tool_id,
        revision,
    )
    return row_to_version(row) if row else None
