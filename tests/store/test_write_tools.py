"""write_tools (migration 0008): a batch of tool updates in one statement. Each write stores
what the multi-statement path wrote (row, capabilities, patterns, version, audit), a row that
moved past the expected revision is refused and given back, a write the database refuses fails
alone with nothing of it written, the tool's later writes of the batch are skipped, and the
batch is one change of the catalog's log (its notice is the caller's, after the commit), only
when something landed."""

from __future__ import annotations

from typing import Any

import asyncpg

from builders import make_tool, tool_doc
from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.model.tool import Tool
from toolcatalog.store import tools as tool_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.tools import BatchedWrite, BatchOutcome, ToolWrite, WriteOutcome

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


def _item(tool: Tool, expected: int, *, platform: str | None = None) -> BatchedWrite:
    audit = AuditWrite("tester", "update", tool.name, expected, expected + 1, [], "req-1", None)
    write = _write(tool, expected + 1)
    if platform is not None:  # bypassing the model: a value the table's CHECK refuses
        write.definition["platform"] = platform
    return BatchedWrite(write, expected, audit)


async def _batch(conn: Any, *items: BatchedWrite) -> BatchOutcome:
    return await tool_store.write_tools(conn, items, "test-origin")


async def _call(conn: Any, tool: Tool, expected: int) -> tuple[WriteOutcome, int | None]:
    done = await _batch(conn, _item(tool, expected))
    return done.outcomes[0], done.published.generation if done.published else None


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
    generation = await conn.fetchval("SELECT catalog_generation()")
    return versions, audit, generation


async def test_a_write_stores_the_same_structure_as_an_insert_with_its_history(
    conn: Any,
) -> None:
    tool_id = await _insert(conn, make_tool("alpha_tool"))
    before = await _counts(conn, tool_id)
    changed = Tool.model_validate(tool_doc("alpha_tool", description="Changed.", **RICH))

    done, generation = await _call(conn, changed, 1)

    assert done.outcome == "written"
    assert done.record is not None
    assert (done.record.revision, done.record.definition) == (2, canonical_definition(changed))
    stored = await tool_store.fetch_tool(conn, "alpha_tool")
    assert stored is not None
    assert stored.definition == canonical_definition(changed)
    assert generation == before[2] + 1
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

    stale, generation = await _call(conn, make_tool("alpha_tool", description="Second."), 1)

    assert stale.outcome == "moved"
    assert stale.record is not None
    assert stale.record.revision == 2
    assert stale.record.definition["description"] == "First."
    assert generation is None
    assert await _counts(conn, tool_id) == before


async def test_a_missing_tool_is_said_so(conn: Any) -> None:
    done, generation = await _call(conn, make_tool("nobody_tool"), 1)
    assert (done.outcome, done.record, generation) == ("missing", None, None)


async def test_successive_revisions_of_several_tools_land_in_one_batch_each_audited(
    conn: Any,
) -> None:
    alpha = await _insert(conn, make_tool("alpha_tool"))
    beta = await _insert(conn, make_tool("beta_tool"))
    before = await _counts(conn, alpha)

    done = await _batch(
        conn,
        _item(make_tool("alpha_tool", description="Two."), 1),
        _item(make_tool("beta_tool", description="Beta two."), 1),
        _item(make_tool("alpha_tool", description="Three."), 2),
    )

    assert [(o.outcome, o.record.revision if o.record else None) for o in done.outcomes] == [
        ("written", 2),
        ("written", 2),
        ("written", 3),
    ]
    assert done.published is not None
    assert done.published.generation == before[2] + 1  # once for the batch
    versions = await conn.fetch(
        "SELECT revision, definition->>'description' AS d FROM tool_versions "
        "WHERE tool_id = $1 ORDER BY revision",
        alpha,
    )
    assert [(v["revision"], v["d"]) for v in versions][-2:] == [(2, "Two."), (3, "Three.")]
    audit = await conn.fetch(
        "SELECT tool_name, revision_before, revision_after FROM tool_audit_log "
        "WHERE actor = 'tester' ORDER BY id"
    )
    assert [tuple(a) for a in audit] == [
        ("alpha_tool", 1, 2),
        ("beta_tool", 1, 2),
        ("alpha_tool", 2, 3),
    ]
    beta_row = await tool_store.fetch_tool(conn, "beta_tool")
    assert beta_row is not None
    assert (beta_row.id, beta_row.revision) == (beta, 2)


async def test_a_refused_write_fails_alone_and_the_tools_later_writes_are_skipped(
    conn: Any,
) -> None:
    alpha = await _insert(conn, make_tool("alpha_tool"))
    await _insert(conn, make_tool("beta_tool"))
    before = await _counts(conn, alpha)

    done = await _batch(
        conn,
        _item(make_tool("alpha_tool", description="Refused."), 1, platform="amiga"),
        _item(make_tool("beta_tool", description="Lands."), 1),
        _item(make_tool("alpha_tool", description="After the refused one."), 2),
    )

    refused, landed, skipped = done.outcomes
    assert refused.outcome == "failed"
    assert isinstance(refused.error, asyncpg.CheckViolationError)
    assert refused.error.constraint_name == "tools_platform_check"
    assert (landed.outcome, skipped.outcome) == ("written", "skipped")
    # Nothing of the refused write, nor of the write planned on it; the other landed.
    alpha_row = await tool_store.fetch_tool(conn, "alpha_tool")
    assert alpha_row is not None
    assert alpha_row.revision == 1
    assert await _counts(conn, alpha) == (before[0], before[1] + 1, before[2] + 1)
    assert await conn.fetchval(
        "SELECT count(*) FROM tool_capabilities WHERE tool_id = $1", alpha
    ) == len(make_tool("alpha_tool").capabilities)


async def test_a_batch_is_one_change_of_the_log_and_a_batch_that_wrote_nothing_is_none(
    conn: Any,
) -> None:
    tool_id = await _insert(conn, make_tool("alpha_tool"))
    await _insert(conn, make_tool("beta_tool"))
    before = await _counts(conn, tool_id)
    nothing = await _batch(
        conn,
        _item(make_tool("alpha_tool", description="Refused."), 1, platform="amiga"),
        _item(make_tool("beta_tool", description="Stale."), 7),
    )
    assert [o.outcome for o in nothing.outcomes] == ["failed", "moved"]
    assert nothing.published is None
    assert await _counts(conn, tool_id) == before

    done = await _batch(
        conn,
        _item(make_tool("alpha_tool", description="Logged."), 1),
        _item(make_tool("beta_tool", description="Logged too."), 1),
        _item(make_tool("alpha_tool", description="Logged again."), 2),
    )

    assert done.published is not None
    logged = await conn.fetch("SELECT id, origin, names, everything FROM catalog_changes")
    assert [tuple(r) for r in logged] == [
        (done.published.id, "test-origin", ["alpha_tool", "beta_tool"], False)
    ]
    assert done.published.generation == before[2] + 1
