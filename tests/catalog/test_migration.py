"""Migrating a running OpsConductor database: its tools (latest versions) converted like its
files, imported with their audit history and telemetry in one transaction, once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from seed_database import WHEN, add_history, create_seed_database, insert_tool
from toolcatalog.catalog.migration import read_opsconductor_database
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.errors import InvalidDefinition, StoreUnavailable
from toolcatalog.formats.opsconductor import Naming
from toolcatalog.model.vocabulary import Vocabulary

SEED = Path(__file__).parents[1] / "formats" / "fixtures" / "opsconductor"
VOCABULARY = Vocabulary.model_validate(
    {"vocabulary": [{"name": "scheduled_tasks", "description": "Scheduled jobs (cron)."}]}
)


def seed_docs() -> list[dict[str, Any]]:
    grep = yaml.safe_load((SEED / "grep.yaml").read_text(encoding="utf-8"))
    crontab = {
        "tool_name": "crontab", "version": "1.0", "description": "Manage cron jobs",
        "platform": "linux", "category": "automation",
        "capabilities": {"primary_capability": {
            "description": "crontab primary capability",
            "patterns": {"execute": {"description": "Execute crontab command",
                                     "time_estimate_ms": "500 + 2 * N",
                                     "policy": {"production_safe": True}}},
        }},
    }  # fmt: skip
    return [grep, crontab]


async def test_tools_history_and_telemetry_import_once(
    empty_db_url: str, service: ToolCatalogService, conn: Any
) -> None:
    ids = await create_seed_database(empty_db_url, seed_docs())
    await add_history(empty_db_url, ids["crontab"], audit=3, telemetry=8)

    migration = await read_opsconductor_database(empty_db_url, Naming(VOCABULARY))

    assert migration.result.problems == []
    assert [lt.tool.name for lt in migration.result.tools] == ["grep", "crontab"]
    crontab = migration.result.tools[1].tool
    assert crontab.capabilities[0].name == "scheduled_tasks"
    assert crontab.capabilities[0].patterns[0].name == "manage_cron_jobs"
    assert migration.counted == {"tool_ab_tests": 1, "tool_cache": 1}
    assert migration.absent == []

    tools = [lt.tool for lt in migration.result.tools]
    report = await service.import_definitions(tools, actor=Actor("cli"), history=migration.history)
    assert report.created == ["grep", "crontab"]
    assert report.history == (3, 8)
    audit = await conn.fetch(
        "SELECT actor, action, occurred_at, client_address, diff FROM tool_audit_log"
        " WHERE tool_name = 'crontab' AND actor LIKE 'opsconductor:%' ORDER BY occurred_at"
    )
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("opsconductor:alice", "create"), ("opsconductor:alice", "update"),
        ("opsconductor:alice", "update"),
    ]  # fmt: skip
    assert audit[0]["occurred_at"] == WHEN
    assert audit[0]["client_address"] == "10.0.0.7"
    assert audit[1]["diff"][0]["to"] == {"step": 1}
    telemetry = await conn.fetch(
        "SELECT capability, pattern, duration_ms, cost, success, inputs FROM tool_telemetry"
        " WHERE tool_name = 'crontab' ORDER BY duration_ms"
    )
    assert len(telemetry) == 8
    assert {(t["capability"], t["pattern"]) for t in telemetry} == {
        ("scheduled_tasks", "manage_cron_jobs")
    }
    assert (telemetry[1]["duration_ms"], telemetry[1]["cost"], telemetry[1]["inputs"]) == (
        101.0, 1.25, {"N": 1}
    )  # fmt: skip

    marker = await conn.fetchval(
        "SELECT diff FROM tool_audit_log WHERE actor = 'opsconductor-migration'"
        " AND tool_name = 'crontab'"
    )
    assert marker[0]["to"] == {"audit": 3, "telemetry": 8}

    again = await service.import_definitions(tools, actor=Actor("cli"), history=migration.history)
    assert (again.unchanged, again.history) == (["grep", "crontab"], (0, 0))


async def test_a_tool_the_import_replaces_gets_its_history_once(
    empty_db_url: str, service: ToolCatalogService
) -> None:
    ids = await create_seed_database(empty_db_url, seed_docs())
    await add_history(empty_db_url, ids["grep"], audit=2, telemetry=3)
    migration = await read_opsconductor_database(empty_db_url, None)
    tools = [lt.tool for lt in migration.result.tools]
    grep = tools[0]
    await service.create_tool(grep.model_copy(update={"description": "the catalog's own grep"}))

    first = await service.import_definitions(tools, history=migration.history)
    assert (first.updated, first.history) == (["grep"], (2, 3))

    changed = [grep.model_copy(update={"description": "edited in the seed"}), tools[1]]
    second = await service.import_definitions(changed, history=migration.history)
    assert (second.updated, second.history) == (["grep"], (0, 0))


async def test_only_the_latest_version_of_a_tool_is_imported(empty_db_url: str) -> None:
    old, new = seed_docs()[0], copy.deepcopy(seed_docs()[0])
    new["version"], new["description"] = "1.1", "Search text, newer"
    await create_seed_database(empty_db_url, [])
    seed = await asyncpg.connect(empty_db_url)
    try:
        await insert_tool(seed, old, latest=False)
        await insert_tool(seed, new)
    finally:
        await seed.close()

    migration = await read_opsconductor_database(empty_db_url, None)

    (loaded,) = migration.result.tools
    assert (loaded.tool.version, loaded.tool.description) == ("1.1.0", "Search text, newer")
    assert loaded.file is not None
    assert loaded.file.endswith("#tools/2")


async def test_a_database_without_the_seed_catalog_is_refused(empty_db_url: str) -> None:
    with pytest.raises(InvalidDefinition, match="not an OpsConductor database"):
        await read_opsconductor_database(empty_db_url, None)


async def test_an_unreachable_seed_database_is_store_unavailable_without_its_password() -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach the OpsConductor database") as exc:
        await read_opsconductor_database("postgresql://nobody:secret@127.0.0.1:1/none", None)
    assert "secret" not in str(exc.value)
