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


# Every statement is a constant; values are always $n parameters.
_COLUMNS = "id, name, role, key_hash, key_prefix, created_at, last_used_at, revoked_at"
_INSERT_SQL = (
    "INSERT INTO tool_api_keys (name, role, key_hash, key_prefix) SELECT $1, $2, $3, $4 "
    "WHERE NOT $5 OR NOT EXISTS (SELECT 1 FROM tool_api_keys) "
    "RETURNING id, name, role, key_hash, key_prefix, created_at, last_used_at, revoked_at"
)
_FETCH_ALL_SQL = f"SELECT {_COLUMNS} FROM tool_api_keys ORDER BY name"  # noqa: S608
_FETCH_BY_PREFIX_SQL = (
    f"SELECT {_COLUMNS} FROM tool_api_keys "  # noqa: S608
    "WHERE key_prefix = $1 AND revoked_at IS NULL"
)
_FETCH_ONE_SQL = f"SELECT {_COLUMNS} FROM tool_api_keys WHERE name = $1"  # noqa: S608
_REVOKE_SQL = (
    "UPDATE tool_api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL "
    "RETURNING id, name, role, key_hash, key_prefix, created_at, last_used_at, revoked_at"
)


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
        _INSERT_SQL,
        name,
        role,
        key_hash,
        key_prefix,
        only_if_none,
    )
    return row_to_key(row) if row else None


async def fetch_keys(conn: Any) -> list[ApiKeyRecord]:
    rows = await conn.fetch(_FETCH_ALL_SQL)
    return [row_to_key(r) for r in rows]


async def fetch_active_keys_by_prefix(conn: Any, key_prefix: str) -> list[ApiKeyRecord]:
    rows = await conn.fetch(_FETCH_BY_PREFIX_SQL, key_prefix)
    return [row_to_key(r) for r in rows]


async def revoke_key(conn: Any, name: str) -> ApiKeyRecord | None:
    """Mark the key revoked; None if there is no active key of that name."""
    row = await conn.fetchrow(_REVOKE_SQL, name)
    return row_to_key(row) if row else None


async def fetch_key(conn: Any, name: str) -> ApiKeyRecord | None:
    row = await conn.fetchrow(_FETCH_ONE_SQL, name)
    return row_to_key(row) if row else None


async def touch_last_used(conn: Any, key_id: int) -> None:
    """Record use at most once a minute per key, so that reads stay reads."""
    await conn.execute(
        "UPDATE tool_api_keys SET last_used_at = now() WHERE id = $1 "
        "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        key_id,
    )
