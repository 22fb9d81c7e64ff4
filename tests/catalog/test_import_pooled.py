"""An import of several chunks against a real pool (committed, not a test's transaction): one
transaction, all or nothing, seen whole or not at all by other connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from builders import make_settings, make_tool
from toolcatalog.catalog import imports
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.model.listing import ToolFilter
from toolcatalog.store import tools as tool_store
from toolcatalog.store.database import Database


@pytest.fixture
async def pooled(fresh_db_url: str, tmp_path: Path) -> AsyncIterator[ToolCatalogService]:
    settings = make_settings(fresh_db_url, tmp_path)
    db = Database(settings)
    await db.open()
    try:
        yield ToolCatalogService(db, settings)
    finally:
        await db.close()


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        tables = ["tools", "tool_capabilities", "tool_patterns", "tool_versions"]
        tables += ["tool_audit_log"]
        sql = "SELECT count(*) FROM tool_catalog.{}"  # constant table names
        return {t: await conn.fetchval(sql.format(t)) for t in tables}
    finally:
        await conn.close()


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 2 tools."""
    monkeypatch.setattr(imports, "_CHUNK", 2)


@pytest.mark.usefixtures("chunked")
async def test_an_import_in_chunks_writes_rows_versions_and_audit_entries(
    pooled: ToolCatalogService, fresh_db_url: str
) -> None:
    await pooled.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    changed = make_tool("beta_tool", description="Changed.")
    tools = [make_tool("alpha_tool"), changed, *(make_tool(f"new_tool_{i}") for i in range(5))]

    report = await pooled.import_definitions(tools, actor=Actor("carol"))

    assert report.created == [f"new_tool_{i}" for i in range(5)]
    assert (report.updated, report.unchanged) == (["beta_tool"], ["alpha_tool"])
    for i in range(5):
        tool = await pooled.get_tool(f"new_tool_{i}")
        assert tool.tool == tools[2 + i]
        assert [v.revision for v in await pooled.versions(f"new_tool_{i}")] == [1]
        [creation] = await pooled.audit(tool_name=f"new_tool_{i}")
        assert (creation.action, creation.actor) == ("import", "carol")
    assert [v.revision for v in await pooled.versions("beta_tool")] == [1, 2]
    per_tool = make_tool("x_tool")
    caps = len(per_tool.capabilities)
    assert await _counts(fresh_db_url) == {
        "tools": 7,
        "tool_capabilities": 7 * caps,
        "tool_patterns": 7 * per_tool.pattern_count(),
        "tool_versions": 8,
        "tool_audit_log": 8,
    }


def _before_the_second_chunks_structure(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[Any], Awaitable[None]]
) -> None:
    """Run `action(conn)` in the import's transaction when the second chunk's tools rows are
    in and its capabilities and patterns next."""
    calls = 0
    insert_structure = tool_store.insert_structure

    async def patched(conn: Any, tools: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            await action(conn)
        await insert_structure(conn, tools)

    monkeypatch.setattr(tool_store, "insert_structure", patched)


@pytest.fixture
async def before(pooled: ToolCatalogService, fresh_db_url: str) -> dict[str, int]:
    """The counts with one tool imported (alpha_tool), chunks of 2 tools from here on."""
    await pooled.import_definitions([make_tool("alpha_tool")])
    return await _counts(fresh_db_url)


@pytest.mark.usefixtures("chunked")
async def test_an_import_in_chunks_that_fails_midway_leaves_nothing(
    pooled: ToolCatalogService,
    fresh_db_url: str,
    before: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    async def refused(conn: Any) -> None:  # PostgreSQL refuses a statement of the import
        await conn.execute("SELECT 1 / 0")

    _before_the_second_chunks_structure(monkeypatch, refused)

    with pytest.raises(asyncpg.DivisionByZeroError):
        await pooled.import_definitions([make_tool(f"new_tool_{i}") for i in range(7)])

    assert await _counts(fresh_db_url) == before
    assert [t.tool.name for t in (await pooled.list_tools(ToolFilter())).items] == ["alpha_tool"]


@pytest.mark.usefixtures("chunked")
async def test_a_reader_sees_an_import_in_chunks_whole_or_not_at_all(
    pooled: ToolCatalogService,
    fresh_db_url: str,
    before: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    midway, go_on = asyncio.Event(), asyncio.Event()

    async def paused(conn: Any) -> None:
        midway.set()
        await go_on.wait()

    _before_the_second_chunks_structure(monkeypatch, paused)
    importing = asyncio.ensure_future(
        pooled.import_definitions([make_tool(f"new_tool_{i}") for i in range(7)])
    )
    await asyncio.wait_for(midway.wait(), timeout=30)
    during = await _counts(fresh_db_url)
    go_on.set()
    report = await importing

    assert during == before
    assert len(report.created) == 7
    after = await _counts(fresh_db_url)
    assert (after["tools"], after["tool_versions"]) == (8, 8)
