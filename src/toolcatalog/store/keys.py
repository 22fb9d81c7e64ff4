"""SQL for tool_api_keys: API keys stored as SHA-256 hashes, never in the clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    name: str
    role: str
    key_hash: bytes
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, name, role, key_hash, key_prefix, created_at, last_used_at, revoked_at"


def row_to_key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        key_hash=bytes(row["key_hash"]),
        key_prefix=row["key_prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def insert_key(
    conn: Any, name: str, role: str, key_hash: bytes, key_prefix: str, *, only_if_none: bool = False
) -> ApiKeyRecord | None:
    """Insert a key; with `only_if_none` only into an empty table (first start), returning
    None when a key (even a revoked one) already exists."""
    row = await conn.fetchrow(
        "INSERT INTO tool_api_keys (name, role, key_hash, key_prefix) "
        "SELECT $1, $2, $3, $4 "
        "WHERE NOT $5 OR NOT EXISTS (SELECT 1 FROM tool_api_keys) "
        "RETURNING " + _COLUMNS,
        name,
        role,
        key_hash,
        key_prefix,
        only_if_none,
    )
    return row_to_key(row) if row else None


async def fetch_keys(conn: Any) -> list[ApiKeyRecord]:
    rows = await conn.fetch("SELECT " + _COLUMNS + " FROM tool_api_keys ORDER BY name")
    return [row_to_key(r) for r in rows]


async def fetch_active_keys_by_prefix(conn: Any, key_prefix: str) -> list[ApiKeyRecord]:
    rows = await conn.fetch(
        "SELECT " + _COLUMNS + " FROM tool_api_keys WHERE key_prefix = $1 AND revoked_at IS NULL",
        key_prefix,
    )
    return [row_to_key(r) for r in rows]


async def revoke_key(conn: Any, name: str) -> ApiKeyRecord | None:
    """Mark the key revoked; None if there is no active key of that name."""
    row = await conn.fetchrow(
        "UPDATE tool_api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL "
        "RETURNING " + _COLUMNS,
        name,
    )
    return row_to_key(row) if row else None


async def fetch_key(conn: Any, name: str) -> ApiKeyRecord | None:
    row = await conn.fetchrow("SELECT " + _COLUMNS + " FROM tool_api_keys WHERE name = $1", name)
    return row_to_key(row) if row else None


async def touch_last_used(conn: Any, key_id: int) -> None:
    """Record use at most once a minute per key, so that reads stay reads."""
    await conn.execute(
        "UPDATE tool_api_keys SET last_used_at = now() WHERE id = $1 "
        "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        key_id,
    )
