"""The write queue (catalog/write_queue.py): a process's concurrent writes go to the database in
batches, each write still its own revision, audit entry, answer and error, and replicas writing
the same tools at once lose nothing and end up serving what is stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from builders import make_tool
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.errors import InvalidDefinition, NotFound, PreconditionFailed
from toolcatalog.runtime import Runtime, open_runtime

# Liveness bound of the polling below; how fast notices travel is measured in bench/, not here.
PATIENCE_S = 15.0


async def eventually(condition: Callable[[], bool], what: str) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > PATIENCE_S:
            pytest.fail(f"still waiting after {PATIENCE_S} s for: {what}")
        await asyncio.sleep(0.01)


async def _generation(conn: Any) -> int:
    return int(await conn.fetchval("SELECT tool_catalog.catalog_generation()"))


async def _patches(conn: Any) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT tool_name, revision_before, revision_after FROM tool_catalog.tool_audit_log "
        "WHERE action = 'patch' ORDER BY id"
    )
    return [tuple(r) for r in rows]


@pytest.fixture
async def runtime(fresh_db_url: str, settings: Settings) -> AsyncIterator[Runtime]:
    """Committed writes through a pool: batches of different tools go side by side."""
    async with open_runtime(settings.model_copy(update={"database_url": fresh_db_url})) as rt:
        yield rt


async def test_concurrent_patches_of_a_tool_land_in_one_batch_as_successive_revisions(
    runtime: Runtime,
) -> None:
    service = runtime.catalog
    names = ["alpha_tool", "beta_tool", "gamma_tool"]
    await service.import_definitions([make_tool(n) for n in names])
    async with runtime.db.connection() as conn:
        before = await _generation(conn)

    results = await asyncio.gather(
        *(
            service.patch_tool(names[i % 3], {"owner": f"team_{i}", "tags": [f"t{i}"]})
            for i in range(9)
        )
    )

    # Each patch answers with its own revision; those of a tool are successive, in order.
    assert [(r.tool.name, r.revision, r.tool.owner) for r in results] == [
        (names[i % 3], 2 + i // 3, f"team_{i}") for i in range(9)
    ]
    assert len({r.etag for r in results}) == 9
    async with runtime.db.connection() as conn:
        # Each tool's first write went at once, the two queued behind it in one batch: six
        # generations (and commit flushes) for nine writes.
        assert await _generation(conn) == before + 6
        patches = await _patches(conn)
        versions = await conn.fetch(
            "SELECT t.name, v.revision, v.definition->>'owner' AS owner FROM "
            "tool_catalog.tool_versions v JOIN tool_catalog.tools t ON t.id = v.tool_id "
            "WHERE v.revision > 1 ORDER BY t.name, v.revision"
        )
    expected = sorted((names[i % 3], 2 + i // 3, f"team_{i}") for i in range(9))
    assert sorted(patches) == sorted((n, r - 1, r) for n, r, _ in expected)
    assert [tuple(v) for v in versions] == expected
    for name, last in zip(names, results[6:], strict=True):
        held = await service.get_tool(name)
        assert (held.revision, held.etag, held.body) == (last.revision, last.etag, last.body)


async def test_a_failing_patch_fails_alone_with_its_own_error_and_the_others_land(
    runtime: Runtime,
) -> None:
    service = runtime.catalog
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    alpha = await service.get_tool("alpha_tool")

    outcomes = await asyncio.gather(
        service.patch_tool("alpha_tool", {"owner": "first"}),
        # Planned after the first: its ETag is no longer alpha's by then, as one at a time.
        service.patch_tool("alpha_tool", {"owner": "stale"}, if_match=alpha.etag),
        service.patch_tool("alpha_tool", {"version": "not a version"}),
        service.patch_tool("nobody_tool", {"owner": "x"}),
        service.patch_tool("beta_tool", {"owner": "second"}),
        service.patch_tool("alpha_tool", {"tags": ["third"]}),
        return_exceptions=True,
    )

    first, stale, invalid, missing, second, third = outcomes
    assert not isinstance(first, BaseException)
    assert first.revision == 2
    assert isinstance(stale, PreconditionFailed)
    assert isinstance(invalid, InvalidDefinition)
    assert invalid.problems[0].path == "version"
    assert isinstance(missing, NotFound)
    assert not isinstance(second, BaseException)
    assert not isinstance(third, BaseException)
    assert (second.revision, second.tool.owner) == (2, "second")
    assert (third.revision, third.tool.owner, third.tool.tags) == (3, "first", ["third"])
    async with runtime.db.connection() as conn:
        assert sorted(await _patches(conn)) == [
            ("alpha_tool", 1, 2),
            ("alpha_tool", 2, 3),
            ("beta_tool", 1, 2),
        ]


async def test_a_patch_matching_the_etag_a_queued_patch_makes_is_decided_on_the_stored_row(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool")])
    alpha = await service.get_tool("alpha_tool")

    # The second matches alpha as it is now: one at a time it would come after the first and
    # be refused; planned on the first's uncommitted result it must not be answered until
    # that result is stored.
    first, second = await asyncio.gather(
        service.patch_tool("alpha_tool", {"owner": "first"}),
        service.patch_tool("alpha_tool", {"owner": "second"}, if_match=alpha.etag),
        return_exceptions=True,
    )

    assert not isinstance(first, BaseException)
    assert isinstance(second, PreconditionFailed)
    assert (await service.get_tool("alpha_tool")).tool.owner == "first"


async def test_a_no_op_queued_behind_a_patch_is_decided_after_it(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool", owner="sre")])

    changed, back = await asyncio.gather(
        service.patch_tool("alpha_tool", {"owner": "dba"}),
        service.patch_tool("alpha_tool", {"owner": "sre"}),
    )

    assert (changed.revision, changed.tool.owner) == (2, "dba")
    assert (back.revision, back.tool.owner) == (3, "sre")


@pytest.fixture
async def replicas(fresh_db_url: str, settings: Settings) -> AsyncIterator[tuple[Runtime, Runtime]]:
    shared = settings.model_copy(update={"database_url": fresh_db_url})
    async with open_runtime(shared) as a, open_runtime(shared) as b:
        yield a, b


async def test_two_replicas_patching_the_same_tools_at_once_lose_nothing_and_converge(
    replicas: tuple[Runtime, Runtime], fresh_db_url: str
) -> None:
    a, b = replicas
    names = [f"tool_{i}" for i in range(4)]
    await a.catalog.import_definitions([make_tool(n) for n in names])
    for runtime in replicas:  # both hold every tool: their writes plan on held rows
        for name in names:
            await runtime.catalog.get_tool(name)

    writes = [
        (runtime, name, f"{label}{k}")
        for k in range(5)
        for name in names
        for runtime, label in ((a, "a"), (b, "b"))
    ]
    results = await asyncio.gather(
        *(rt.catalog.patch_tool(name, {"owner": tag}) for rt, name, tag in writes)
    )

    admin = await asyncpg.connect(fresh_db_url)
    try:
        for name in names:
            mine = [r for r, (_, n, _) in zip(results, writes, strict=True) if n == name]
            # Every write landed as a revision of its own: 10 per tool, none lost.
            assert sorted(r.revision for r in mine) == list(range(2, 12))
            audit = await admin.fetch(
                "SELECT revision_before, revision_after FROM tool_catalog.tool_audit_log "
                "WHERE tool_name = $1 AND action = 'patch' ORDER BY revision_after",
                name,
            )
            assert [tuple(r) for r in audit] == [(r, r + 1) for r in range(1, 11)]
            stored = await admin.fetchrow(
                "SELECT revision, etag FROM tool_catalog.tools WHERE name = $1", name
            )
            for runtime in replicas:

                def serves_stored(
                    rt: Runtime = runtime, n: str = name, etag: str = stored["etag"]
                ) -> bool:
                    held = rt.catalog.state.held_tool(n)
                    return held is None or held.etag == etag

                await eventually(serves_stored, f"{name} as stored")
                assert (await runtime.catalog.get_tool(name)).etag == stored["etag"]
    finally:
        await admin.close()


async def test_a_replica_that_missed_a_batchs_notice_catches_up(
    replicas: tuple[Runtime, Runtime], fresh_db_url: str
) -> None:
    a, b = replicas
    names = ["alpha_tool", "beta_tool"]
    await a.catalog.import_definitions([make_tool(n) for n in names])
    await eventually(lambda: b.catalog.peek_snapshot() is not None, "b reads the catalog")
    for name in names:
        await b.catalog.get_tool(name)
    assert b.listener is not None
    await eventually(b.listener.connected.is_set, "b listens")
    await b.listener.stop()  # b hears nothing from here on

    written = await asyncio.gather(
        a.catalog.patch_tool("alpha_tool", {"owner": "missed"}),
        a.catalog.patch_tool("beta_tool", {"owner": "missed too"}),
    )

    await asyncio.sleep(0.2)
    held = b.catalog.state.held_tool("alpha_tool")
    assert held is not None
    assert held.tool.owner != "missed"  # b did miss it
    b.catalog.state.invalidate_all()  # what b's listener does on reconnecting
    for cached in written:
        assert (await b.catalog.get_tool(cached.tool.name)).etag == cached.etag
    snapshot = await b.catalog.get_all_tools_with_structure()
    assert {t.name: t.owner for t in snapshot.tools} == {
        "alpha_tool": "missed",
        "beta_tool": "missed too",
    }
