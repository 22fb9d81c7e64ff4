"""Forward-only SQL migrations from store/migrations/NNNN_name.sql, serialised by an advisory
lock so that replicas starting together apply each migration exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from toolcatalog.errors import CatalogError

log = logging.getLogger(__name__)

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
    # "applied", "pending", "edited" (applied, but its file changed since) or "unknown"
    # (applied by a newer release: this one does not ship it).
    state: str = "pending"

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    @property
    def drifted(self) -> bool:
        return self.state in ("edited", "unknown")


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
            "SELECT version, name, checksum, applied_at FROM tool_catalog.schema_migrations"
        )
        applied = {r["version"]: r for r in rows}
    states = []
    shipped = available_migrations()
    for mig in shipped:
        row = applied.get(mig.version)
        if row is None:
            states.append(MigrationState(mig, None, "pending"))
        else:
            state = "applied" if row["checksum"] == mig.checksum else "edited"
            states.append(MigrationState(mig, row["applied_at"], state))
    known = {m.version for m in shipped}
    for version in sorted(set(applied) - known):
        row = applied[version]
        states.append(
            MigrationState(Migration(version, row["name"], ""), row["applied_at"], "unknown")
        )
    return states


async def _lock_holder(conn: Any) -> str:
    """Who holds the migration lock, for the log: 'pid N (application)'."""
    row = await conn.fetchrow(
        "SELECT a.pid, a.application_name FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
        _LOCK_KEY,
    )
    if row is None:
        return "another process"
    return f"pid {row['pid']} ({row['application_name'] or 'unnamed application'})"


@asynccontextmanager
async def migration_lock(conn: Any, *, wait_s: float) -> AsyncIterator[None]:
    """Hold the migration advisory lock on `conn` for the block. Waits at most `wait_s`
    (the start-up retry setting), polling with pg_try_advisory_lock: a blocking
    pg_advisory_lock would be cut by the command timeout and hide the cause."""
    deadline = time.monotonic() + wait_s
    delay = 0.1
    logged = False
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
        holder = await _lock_holder(conn)
        if time.monotonic() + delay > deadline:
            raise MigrationError(
                f"gave up waiting for the migration lock held by {holder} after {wait_s:g} s; "
                "let that migration finish, or raise TOOLCATALOG_STARTUP_RETRY_S"
            )
        if not logged:
            log.warning(
                f"waiting for the migration lock held by {holder}",
                extra={"holder": holder, "gives_up_in_s": round(deadline - time.monotonic(), 1)},
            )
            logged = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


@asynccontextmanager
async def migration_lock_at(url: str, *, wait_s: float) -> AsyncIterator[None]:
    """The migration lock on a connection of its own (not the pool's: the work done under
    it needs the pool's connections, however small the pool is)."""
    import asyncpg

    conn = await asyncpg.connect(url, server_settings={"application_name": "toolcatalog"})
    try:
        async with migration_lock(conn, wait_s=wait_s):
            yield
    finally:
        await conn.close()


async def migrate(conn: Any, *, wait_s: float = 60.0) -> list[Migration]:
    """Apply pending migrations, each in its own transaction; returns those applied.

    Holds a session advisory lock for the duration, so a second migrator waits (at most
    `wait_s`) and then finds nothing left to do. Refuses to run if an applied migration's
    file has changed, or if the database has migrations this release does not know.
    """
    # A migrator waits for its DDL's table locks as long as it takes (the pool's
    # lock_timeout is for writes to tools; RESET ALL restores it).
    await conn.execute("SET lock_timeout = 0")
    async with migration_lock(conn, wait_s=wait_s):
        return await apply_pending(conn)


async def apply_pending(conn: Any, *, up_to: int | None = None) -> list[Migration]:
    """Apply the pending migrations (those numbered at most `up_to`, if given). The caller
    holds the migration lock (`migration_lock`); `migrate` is the usual entry."""
    await _ensure_table(conn)
    rows = await conn.fetch("SELECT version, name, checksum FROM tool_catalog.schema_migrations")
    applied = {r["version"]: r["checksum"] for r in rows}
    shipped = available_migrations()
    unknown = sorted((r["version"], r["name"]) for r in rows if r["version"] > len(shipped))
    if unknown:
        version, name = unknown[-1]
        raise MigrationError(
            f"the database schema is newer than this toolcatalog release: it has migration "
            f"{version:04d}_{name}, this release ships up to {len(shipped):04d}; "
            "run the newer toolcatalog release (or restore a backup taken before the upgrade)"
        )
    done: list[Migration] = []
    for mig in shipped:
        if up_to is not None and mig.version > up_to:
            break
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
