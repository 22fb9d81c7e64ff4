"""write_tool (migration 0006): one tool's whole update in one statement. It writes what the
multi-statement path wrote (row, capabilities, patterns, version, audit, generation, notice),
refuses a row that moved past the expected revision, and writes nothing when it fails."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from builders import make_tool, tool_doc
from toolcatalog.catalog.changes import CHANNEL, ChangeNotice
from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.model.tool import Tool
from toolcatalog.store import tools as tool_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.database import SERVER_SETTINGS, init_connection
from toolcatalog.store.tools import ToolWrite, WriteOutcome

HEARING_S = 30.0
# A pattern with estimates as expressions, inputs and environments: every derived column.
RICH = {
    "capabilities": [
        {
            "name": "disk_usage",
            "description": "Disk usage of a folder.",
            "patterns": [
                {
                    "name": "summary",
                    "description": "Totals per folder.",
                    "typical_use_cases": ["why is / full", "biggest folders"],
                    "inputs": {
                        "type": "object",
                        "properties": {"files": {"type": "integer", "default": 1000}},
                    },
                    "profile": {
                        "time_estimate_ms": "files * 0.5",
                        "cost_estimate": 2,
                        "accuracy": 0.8,
                    },
                    "policy": {
                        "production_safe": True,
                        "max_cost": 10,
                        "allowed_environments": ["production", "staging"],
                    },
                },
                {
                    "name": "deep",
                    "description": "Every file.",
                    "profile": {"time_estimate_ms": 9000, "accuracy": 1.0},
                    "policy": {"production_safe": False, "requires_approval": True},
                },
            ],
        },
        {
            "name": "process_list",
            "description": "List processes.",
            "patterns": [
                {
                    "name": "snapshot",
                    "description": "One snapshot.",
                    "profile": {"time_estimate_ms": 50, "accuracy": 0.9},
                    "policy": {"production_safe": True},
                }
            ],
        },
    ]
}


def _write(tool: Tool, revision: int) -> ToolWrite:
    definition = canonical_definition(tool)
    return ToolWrite(tool, definition, revision, make_etag(definition, revision))


async def _insert(conn: Any, tool: Tool) -> int:
    return (await tool_store.insert_tools(conn, [_write(tool, 1)]))[tool.name]


async def _call(conn: Any, tool: Tool, expected: int) -> WriteOutcome:
    audit = AuditWrite("tester", "update", tool.name, expected, expected + 1, [], "req-1", None)
    notice = ChangeNotice("test-origin", 0, (tool.name,)).payload()
    return await tool_store.write_tool(
        conn, _write(tool, expected + 1), expected, audit, CHANNEL, notice
    )


async def _patterns(conn: Any, tool_id: int) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT c.name AS capability, c.position AS cpos, p.* FROM tool_patterns p "
        "JOIN tool_capabilities c ON c.id = p.capability_id WHERE p.tool_id = $1 "
        "ORDER BY c.position, p.position",
        tool_id,
    )
    skip = {"id", "capability_id", "tool_id"}
    return [tuple(v for k, v in r.items() if k not in skip) for r in rows]


async def _counts(conn: Any, tool_id: int) -> tuple[int, int, int]:
    versions = await conn.fetchval("SELECT count(*) FROM tool_versions WHERE tool_id = $1", tool_id)
    audit = await conn.fetchval("SELECT count(*) FROM tool_audit_log WHERE actor = 'tester'")
    generation = await conn.fetchval("SELECT generation FROM catalog_state")
    return versions, audit, generation


async def test_a_write_stores_the_same_structure_as_an_insert_with_its_history(
    conn: Any,
) -> None:
    tool_id = await _insert(conn, make_tool("alpha_tool"))
    before = await _counts(conn, tool_id)
    changed = Tool.model_validate(tool_doc("alpha_tool", description="Changed.", **RICH))

    done = await _call(conn, changed, 1)

    assert done.outcome == "written"
    assert done.record is not None
    assert (done.record.revision, done.record.definition) == (2, canonical_definition(changed))
    assert done.generation == before[2] + 1
    assert await _counts(conn, tool_id) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # The same tool inserted by the bulk path (COPY) has the same capability/pattern rows.
    twin_id = await _insert(conn, Tool.model_validate(tool_doc("twin_tool", **RICH)))
    assert await _patterns(conn, tool_id) == await _patterns(conn, twin_id)
    audit = await conn.fetchrow(
        "SELECT * FROM tool_audit_log WHERE actor = 'tester' ORDER BY id DESC LIMIT 1"
    )
    assert (audit["tool_name"], audit["revision_before"], audit["revision_after"]) == (
        "alpha_tool",
        1,
        2,
    )
    assert audit["request_id"] == "req-1"


async def test_a_row_that_moved_is_refused_and_given_back_with_nothing_written(
    conn: Any,
) -> None:
    tool_id = await _insert(conn, make_tool("alpha_tool"))
    await _call(conn, make_tool("alpha_tool", description="First."), 1)
    before = await _counts(conn, tool_id)

    stale = await _call(conn, make_tool("alpha_tool", description="Second."), 1)

    assert stale.outcome == "moved"
    assert stale.record is not None
    assert stale.record.revision == 2
    assert stale.record.definition["description"] == "First."
    assert stale.generation is None
    assert await _counts(conn, tool_id) == before


async def test_a_missing_tool_is_said_so(conn: Any) -> None:
    done = await _call(conn, make_tool("nobody_tool"), 1)
    assert (done.outcome, done.record) == ("missing", None)


async def test_a_committed_write_is_heard_and_a_refused_one_writes_and_tells_nothing(
    fresh_db_url: str,
) -> None:
    writer = await asyncpg.connect(fresh_db_url, server_settings=SERVER_SETTINGS)
    listener = await asyncpg.connect(fresh_db_url, server_settings=SERVER_SETTINGS)
    heard: asyncio.Queue[ChangeNotice] = asyncio.Queue()
    try:
        await init_connection(writer)
        await listener.add_listener(
            CHANNEL, lambda *args: heard.put_nowait(ChangeNotice.decode(args[-1]))
        )
        tool_id = await _insert(writer, make_tool("alpha_tool"))
        before = await _counts(writer, tool_id)
        # Bypassing the model: a platform the table's CHECK refuses, after the row lock.
        bad = make_tool("alpha_tool").model_copy(update={"description": "Refused."})
        refused = _write(bad, 2)
        refused.definition["platform"] = "amiga"
        audit = AuditWrite("tester", "update", "alpha_tool", 1, 2, [], None, None)
        payload = ChangeNotice("test-origin", 0, ("alpha_tool",)).payload()
        with pytest.raises(asyncpg.CheckViolationError):
            await tool_store.write_tool(writer, refused, 1, audit, CHANNEL, payload)
        assert await _counts(writer, tool_id) == before
        assert await writer.fetchval("SELECT revision FROM tools WHERE id = $1", tool_id) == 1

        done = await _call(writer, make_tool("alpha_tool", description="Heard."), 1)

        notice = await asyncio.wait_for(heard.get(), HEARING_S)
        assert (notice.origin, notice.names) == ("test-origin", ("alpha_tool",))
        assert notice.generation == done.generation
        assert heard.empty()  # the refused write told nobody
    finally:
        await writer.close()
        await listener.close()
