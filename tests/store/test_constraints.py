"""The database itself refuses impossible data, whatever client writes it."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest

from builders import make_tool, tool_doc
from toolcatalog.catalog.service import ToolCatalogService, validate_tool
from toolcatalog.errors import Conflict, InvalidDefinition
from toolcatalog.store.errors import translate


async def _pattern_id(conn: Any) -> int:
    return int(await conn.fetchval("SELECT id FROM tool_patterns LIMIT 1"))


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("accuracy", 1.5, "tool_patterns_accuracy_check"),
        ("completeness", -0.1, "tool_patterns_completeness_check"),
        ("complexity", 2, "tool_patterns_complexity_check"),
        ("time_estimate_ms", -1, "tool_patterns_time_estimate_check"),
        ("cost_estimate", -5, "tool_patterns_cost_estimate_check"),
    ],
)
async def test_profile_checks_hold_in_the_database(
    service: ToolCatalogService, conn: Any, column: str, value: float, constraint: str
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    pid = await _pattern_id(conn)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        async with conn.transaction():
            await conn.execute(f"UPDATE tool_patterns SET {column} = $1 WHERE id = $2", value, pid)
    assert err.value.constraint_name == constraint
    translated = translate(err.value)
    assert isinstance(translated, InvalidDefinition)
    assert translated.problems[0].path.startswith("profile.")


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("name", "Bad-Name", "tools_name_format_check"),
        ("name", "health", "tools_name_reserved_check"),
        ("platform", "plan9", "tools_platform_check"),
        ("status", "gone", "tools_status_check"),
        ("version", "one", "tools_version_format_check"),
    ],
)
async def test_tool_checks_hold_in_the_database(
    service: ToolCatalogService, conn: Any, column: str, value: str, constraint: str
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    with pytest.raises(asyncpg.CheckViolationError) as err:
        async with conn.transaction():
            await conn.execute(f"UPDATE tools SET {column} = $1 WHERE name = 'alpha_tool'", value)
    assert err.value.constraint_name == constraint


async def test_duplicate_tool_name_is_a_conflict_at_the_database(
    service: ToolCatalogService, conn: Any
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO tools (name, version, description, platform, category, definition,"
                " etag) SELECT 'alpha_tool', version, description, platform, category,"
                " definition, etag FROM tools WHERE name = 'alpha_tool'"
            )
    assert isinstance(translate(err.value), Conflict)


async def test_deleting_a_tool_cascades_to_its_structure_and_versions(
    service: ToolCatalogService, conn: Any
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    await conn.execute("DELETE FROM tools WHERE name = 'alpha_tool'")
    for table in ("tool_capabilities", "tool_patterns", "tool_versions"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await conn.fetchval("SELECT count(*) FROM tool_audit_log") == 1


async def test_updated_at_moves_on_update(service: ToolCatalogService, conn: Any) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    await conn.execute("ALTER TABLE tools DISABLE TRIGGER tools_touch_updated_at")
    await conn.execute("UPDATE tools SET updated_at = now() - interval '1 day'")
    await conn.execute("ALTER TABLE tools ENABLE TRIGGER tools_touch_updated_at")
    before = await conn.fetchval("SELECT updated_at FROM tools")
    await conn.execute("UPDATE tools SET owner = 'x'")
    assert await conn.fetchval("SELECT updated_at FROM tools") > before


def test_reserved_names_in_sql_match_the_model() -> None:
    from pathlib import Path

    from toolcatalog.model.tool import RESERVED_NAMES

    sql = (Path(__file__).resolve().parents[2] / "src/toolcatalog/store/schema.sql").read_text()
    line = next(x for x in sql.splitlines() if "tools_name_reserved_check" in x)
    listed = set(re.findall(r"'(\w+)'::text", line))
    assert listed == set(RESERVED_NAMES)


async def test_unicode_and_long_text_round_trip(service: ToolCatalogService) -> None:
    text = "Ünïcødé ✓ — 日本語 " + "x" * 9000
    await service.create_tool(make_tool("alpha_tool", description=text))
    service.invalidate_all()
    assert (await service.get_tool("alpha_tool")).tool.description == text


def test_a_nul_character_is_refused_clearly() -> None:
    with pytest.raises(InvalidDefinition) as err:
        validate_tool(tool_doc("alpha_tool", description="bad \x00 byte"))
    assert err.value.problems[0].path == "description"
