"""Forward-only SQL migrations from store/migrations/NNNN_name.sql, serialised by an advisory
lock so that replicas starting together apply each migration exactly once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from toolcatalog.errors import CatalogError

# Any constant works; it only has to be the same for every replica.
_LOCK_KEY = 0x746F6F6C636174  # "toolcat"
_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


class MigrationError(CatalogError):
    code = "migration_error"
    title = "Migration error"


def available_migrations() -> list[Migration]:
    """The migrations shipped in the package, in order."""
    folder = resources.files("toolcatalog.store") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def _ensure_table(conn: Any) -> None:
    await conn.execute(
        "CREATE SCHEMA IF NOT EXISTS tool_catalog;"
        "CREATE TABLE IF NOT EXISTS tool_catalog.schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )


async def migration_status(conn: Any) -> list[MigrationState]:
    """Every shipped migration with when it was applied (None: pending)."""
    exists = await conn.fetchval("SELECT to_regclass($1)", "tool_catalog.schema_migrations")
    applied: dict[int, Any] = {}
    if exists:
        rows = await conn.fetch(
            "SELECT version, checksum, applied_at FROM tool_catalog.schema_migrations"
        )
        applied = {r["version"]: r for r in rows}
    states = []
    for mig in available_migrations():
        row = applied.get(mig.version)
        states.append(MigrationState(mig, row["applied_at"] if row else None))
    return states


async def migrate(conn: Any) -> list[Migration]:
    """Apply pending migrations, each in its own transaction; returns those applied.

    Holds a session advisory lock for the duration, so a second migrator waits and then
    finds nothing left to do. Refuses to run if an applied migration's file has changed.
    """
    # A migrator waits for the other migrators and for its DDL's table locks as long as it
    # takes (the pool's lock_timeout is for writes to tools; RESET ALL restores it).
    await conn.execute("SET lock_timeout = 0")
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await _ensure_table(conn)
        rows = await conn.fetch("SELECT version, checksum FROM tool_catalog.schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        done: list[Migration] = []
        for mig in available_migrations():
            if mig.version in applied:
                if applied[mig.version] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.version:04d}_{mig.name} was edited after it was "
                        "applied; migrations are forward-only: restore it and add a new one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO tool_catalog.schema_migrations (version, name, checksum) "
                    "VALUES ($1, $2, $3)",
                    mig.version,
                    mig.name,
                    mig.checksum,
                )
            done.append(mig)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
