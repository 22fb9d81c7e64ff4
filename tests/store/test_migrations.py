"""Migrations: applied once, idempotent, serialised across processes, schema as checked in."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from toolcatalog.store.migrate import (
    MigrationError,
    available_migrations,
    migrate,
    migration_status,
)
from toolcatalog.store.schema_dump import describe_schema

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "src/toolcatalog/store/schema.sql"


async def _connect(url: str) -> Any:
    return await asyncpg.connect(url)


async def test_migrating_twice_applies_each_migration_once(empty_db_url: str) -> None:
    conn = await _connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        assert [m.version for m in first] == [m.version for m in available_migrations()]
        assert second == []
        states = await migration_status(conn)
        assert all(s.applied for s in states)
    finally:
        await conn.close()


async def test_status_lists_pending_migrations_before_migrating(empty_db_url: str) -> None:
    conn = await _connect(empty_db_url)
    try:
        states = await migration_status(conn)
        assert states
        assert not any(s.applied for s in states)
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_end_with_one_correct_schema(
    empty_db_url: str,
) -> None:
    env = {**os.environ, "DATABASE_URL": empty_db_url, "TOOLCATALOG_STARTUP_RETRY_S": "0"}
    cmd = [sys.executable, "-m", "toolcatalog.cli.main", "db", "migrate"]
    procs = [
        await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    outputs = sorted(out.decode() for out, _ in results)
    assert "up to date" in outputs[1] or "applied" in outputs[1]
    assert any("applied" in o for o in outputs)
    conn = await _connect(empty_db_url)
    try:
        rows = await conn.fetch("SELECT version FROM tool_catalog.schema_migrations")
        assert sorted(r["version"] for r in rows) == [m.version for m in available_migrations()]
        assert await conn.fetchval("SELECT count(*) FROM tool_catalog.catalog_state") == 1
    finally:
        await conn.close()


async def test_migrated_schema_matches_the_checked_in_schema_sql(
    template_db: str, conn: Any
) -> None:
    described = await describe_schema(conn)
    assert described == SCHEMA_SQL.read_text(), (
        "the migrated schema differs from src/toolcatalog/store/schema.sql; "
        "run `make schema` and review the diff"
    )


async def test_an_edited_migration_is_refused(empty_db_url: str) -> None:
    conn = await _connect(empty_db_url)
    try:
        await migrate(conn)
        await conn.execute(
            "UPDATE tool_catalog.schema_migrations SET checksum = 'edited' WHERE version = 1"
        )
        with pytest.raises(MigrationError, match="forward-only"):
            await migrate(conn)
    finally:
        await conn.close()
