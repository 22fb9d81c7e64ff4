"""Migrations: applied once, idempotent, serialised across processes, schema as checked in."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from toolcatalog.store.migrate import (
    MigrationError,
    apply_pending,
    available_migrations,
    migrate,
    migration_lock,
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
    env = {**os.environ, "DATABASE_URL": empty_db_url, "TOOLCATALOG_STARTUP_RETRY_S": "60"}
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


async def test_status_reports_an_edited_and_an_unknown_migration(empty_db_url: str) -> None:
    conn = await _connect(empty_db_url)
    try:
        await migrate(conn)
        await conn.execute(
            "UPDATE tool_catalog.schema_migrations SET checksum = 'edited' WHERE version = 1"
        )
        await conn.execute(
            "INSERT INTO tool_catalog.schema_migrations (version, name, checksum)"
            " VALUES (9999, 'from_a_newer_release', 'x')"
        )
        states = {s.migration.version: s for s in await migration_status(conn)}
        assert states[1].state == "edited"
        assert states[9999].state == "unknown"
        assert states[9999].migration.name == "from_a_newer_release"
        assert [v for v, s in states.items() if s.drifted] == [1, 9999]
    finally:
        await conn.close()


async def test_a_schema_newer_than_this_release_is_refused_with_what_to_do(
    empty_db_url: str,
) -> None:
    conn = await _connect(empty_db_url)
    try:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO tool_catalog.schema_migrations (version, name, checksum)"
            " VALUES (9999, 'from_a_newer_release', 'x')"
        )
        with pytest.raises(MigrationError, match="newer than this toolcatalog release"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_a_migrator_waits_for_the_lock_no_longer_than_told_and_names_the_holder(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    holder = await asyncpg.connect(
        empty_db_url, server_settings={"application_name": "the_other_migrator"}
    )
    waiter = await _connect(empty_db_url)
    try:
        async with migration_lock(holder, wait_s=5):
            with (
                caplog.at_level(logging.WARNING, logger="toolcatalog.store.migrate"),
                pytest.raises(MigrationError, match="TOOLCATALOG_STARTUP_RETRY_S"),
            ):
                await migrate(waiter, wait_s=0.5)
        pid = holder.get_server_pid()
        assert f"waiting for the migration lock held by pid {pid} (the_other_migrator)" in (
            caplog.text
        )
        # Released: the waiter gets it now.
        assert [m.version for m in await migrate(waiter, wait_s=0.5)] == [
            m.version for m in available_migrations()
        ]
    finally:
        await holder.close()
        await waiter.close()


async def test_upgrading_past_0007_keeps_the_tools_and_drops_the_full_text_columns(
    empty_db_url: str,
) -> None:
    conn = await _connect(empty_db_url)
    try:
        async with migration_lock(conn, wait_s=60):
            await apply_pending(conn, up_to=6)
            await conn.execute(
                "INSERT INTO tool_catalog.tools (name, version, description, platform, category,"
                " definition, search_text, etag) VALUES ('old_tool', '1.0.0', 'An old tool.',"
                " 'linux', 'misc', '{\"name\": \"old_tool\"}', 'old tool', '\"1-x\"')"
            )
            applied = await apply_pending(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()][6:]
        assert await conn.fetchval("SELECT name FROM tool_catalog.tools") == "old_tool"
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'tool_catalog' AND table_name = 'tools'"
        )
        assert {"search", "search_text"}.isdisjoint(r["column_name"] for r in columns)
        # write_tool (0006, 0007) gave way to the batch's write_tools (0008), which takes its
        # writer's origin instead of a channel and a notice since 0010.
        assert await conn.fetchval(
            "SELECT array_agg(proname::text || pronargs) FROM pg_proc "
            "WHERE proname IN ('write_tool', 'write_tools')"
        ) == ["write_tools2"]
    finally:
        await conn.close()
