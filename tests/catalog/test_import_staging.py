"""An import whose new tools rows are staged over a second connection (store/import_rows.py)
against a real pool: still one transaction, all or nothing, seen whole or not at all by other
connections, and no staged row left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from builders import make_settings, make_tool
from toolcatalog.catalog import imports
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.errors import CatalogError
from toolcatalog.model.listing import ToolFilter
from toolcatalog.store import import_rows
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
        tables += ["tool_audit_log", "tool_import_rows"]
        sql = "SELECT count(*) FROM tool_catalog.{}"  # constant table names
        return {t: await conn.fetchval(sql.format(t)) for t in tables}
    finally:
        await conn.close()


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Chunks of 2 tools; the sizes of the batches staged."""
    monkeypatch.setattr(imports, "_CHUNK", 2)
    sizes: list[int] = []
    stage = import_rows.stage_tool_rows

    async def counted(conn: Any, writes: Any) -> Any:
        sizes.append(len(writes))
        return await stage(conn, writes)

    monkeypatch.setattr(import_rows, "stage_tool_rows", counted)
    return sizes


async def test_a_staged_import_writes_what_a_direct_one_writes(
    pooled: ToolCatalogService, fresh_db_url: str, staged: list[int]
) -> None:
    await pooled.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    assert staged == []  # one chunk: COPYed directly
    changed = make_tool("beta_tool", description="Changed.")
    tools = [make_tool("alpha_tool"), changed, *(make_tool(f"new_tool_{i}") for i in range(5))]

    report = await pooled.import_definitions(tools, actor=Actor("carol"))

    assert staged == [2, 2, 1]  # the chunks' new tools (the first chunk has none)
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
        "tool_import_rows": 0,
    }


async def test_a_staged_import_that_fails_midway_leaves_nothing(
    pooled: ToolCatalogService,
    fresh_db_url: str,
    staged: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await pooled.import_definitions([make_tool("alpha_tool")])
    before = await _counts(fresh_db_url)
    calls = 0
    insert_structure = tool_store.insert_structure

    async def failing(conn: Any, tools: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second chunk's: PostgreSQL refuses a statement of the import
            await conn.execute("SELECT 1 / 0")
        await insert_structure(conn, tools)

    monkeypatch.setattr(tool_store, "insert_structure", failing)

    with pytest.raises(asyncpg.DivisionByZeroError):
        await pooled.import_definitions([make_tool(f"new_tool_{i}") for i in range(7)])

    assert staged[:2] == [2, 2]
    assert await _counts(fresh_db_url) == before  # staging emptied as well
    assert [t.tool.name for t in (await pooled.list_tools(ToolFilter())).items] == ["alpha_tool"]


async def test_a_reader_sees_a_staged_import_whole_or_not_at_all(
    pooled: ToolCatalogService,
    fresh_db_url: str,
    staged: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await pooled.import_definitions([make_tool("alpha_tool")])
    before = await _counts(fresh_db_url)
    midway, go_on = asyncio.Event(), asyncio.Event()
    calls = 0
    insert_structure = tool_store.insert_structure

    async def paused(conn: Any, tools: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first two chunks' rows are in the transaction, more staged
            midway.set()
            await go_on.wait()
        await insert_structure(conn, tools)

    monkeypatch.setattr(tool_store, "insert_structure", paused)
    importing = asyncio.ensure_future(
        pooled.import_definitions([make_tool(f"new_tool_{i}") for i in range(7)])
    )
    await asyncio.wait_for(midway.wait(), timeout=30)
    during = await _counts(fresh_db_url)
    go_on.set()
    report = await importing

    assert during.pop("tool_import_rows") >= 2  # staged, not a tool of the catalog
    before.pop("tool_import_rows")
    assert during == before
    assert len(report.created) == 7
    after = await _counts(fresh_db_url)
    assert (after["tools"], after["tool_versions"], after["tool_import_rows"]) == (8, 8, 0)


async def test_a_batch_gone_from_under_an_import_refuses_it(
    pooled: ToolCatalogService,
    fresh_db_url: str,
    staged: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    move = import_rows.move_staged_tool_rows

    async def emptied(conn: Any, batch: str, count: int) -> None:
        gone = await asyncpg.connect(fresh_db_url)
        try:
            await gone.execute("DELETE FROM tool_catalog.tool_import_rows")
        finally:
            await gone.close()
        await move(conn, batch, count)

    monkeypatch.setattr(import_rows, "move_staged_tool_rows", emptied)

    with pytest.raises(CatalogError, match="staged tools rows went missing"):
        await pooled.import_definitions([make_tool(f"new_tool_{i}") for i in range(4)])

    assert (await _counts(fresh_db_url))["tools"] == 0


async def test_an_import_on_a_busy_pool_writes_its_rows_directly(
    fresh_db_url: str, tmp_path: Path, staged: list[int]
) -> None:
    # A pool of two with one connection held elsewhere: no side connection within the wait,
    # so the import COPYs its rows into `tools` itself instead of failing or waiting.
    settings = make_settings(fresh_db_url, tmp_path, pool_max_size=2)
    db = Database(settings)
    await db.open()
    try:
        service = ToolCatalogService(db, settings)
        async with db.connection() as held:
            await held.execute("SELECT 1")
            report = await service.import_definitions([make_tool(f"t_{i}") for i in range(5)])
        assert (staged, len(report.created)) == ([], 5)
        assert (await _counts(fresh_db_url))["tools"] == 5
    finally:
        await db.close()
