"""SQL for tool_versions: the append-only history of every tool's full definition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolcatalog.model.history import VersionRecord, VersionSummary


def row_to_version(row: Any) -> VersionRecord:
    return VersionRecord(
        revision=row["revision"],
        definition=row["definition"],
        actor=row["actor"],
        action=row["action"],
        comment=row["comment"],
        created_at=row["created_at"],
    )


async def insert_current_versions(
    conn: Any, tool_ids: Sequence[int], actor: str, action: str
) -> None:
    """Each of these tools' rows, as just written in the caller's transaction, as its version.
    The stored definition is copied as it is (no JSON sent, parsed or compressed again):
    100,000 generated tools' versions took ~12 s of PostgreSQL's CPU as a COPY of the
    documents (load ~8), the most of any table after `tools` itself."""
    if not tool_ids:
        return
    await conn.execute(
        "INSERT INTO tool_versions (tool_id, revision, definition, actor, action) "
        "SELECT id, revision, definition, $2, $3 FROM tools WHERE id = ANY($1::bigint[]) "
        "ORDER BY id",
        list(tool_ids),
        actor,
        action,
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
