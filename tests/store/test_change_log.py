"""The catalog's change log (store/changes.py, migration 0010), raced on real PostgreSQL with
explicit orderings of two or three connections: writers of different tools do not wait for each
other, a snapshot's generation counts exactly the changes visible in it (through concurrent
writers, a rollback and a fold of the log), and a write's transaction id tells whether a
snapshot saw it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from builders import make_tool
from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.store import changes as change_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.changes import Position
from toolcatalog.store.connection_settings import SERVER_SETTINGS, init_connection
from toolcatalog.store.tools import BatchedWrite, ToolWrite

# A bound on a statement that must not wait for another transaction: reached only if it does
# (it would wait for ever); no speed is asserted.
UNBLOCKED_S = 20.0


@pytest.fixture
async def connect(fresh_db_url: str) -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def open_one() -> Any:
        conn = await asyncpg.connect(fresh_db_url, server_settings=SERVER_SETTINGS)
        await init_connection(conn)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        await conn.close()


async def _publish(conn: Any, *names: str) -> change_store.Published:
    return await change_store.publish_change(conn, "test-origin", names)


async def _snapshot(conn: Any) -> tuple[Any, Position]:
    tx = conn.transaction(isolation="repeatable_read", readonly=True)
    await tx.start()
    return tx, await change_store.fetch_position(conn)


def _patch(name: str, description: str) -> BatchedWrite:
    tool = make_tool(name, description=description)
    definition = canonical_definition(tool)
    write = ToolWrite(tool, definition, 2, make_etag(definition, 2))
    audit = AuditWrite("tester", "patch", name, 1, 2, [], None, None)
    return BatchedWrite(write, 1, audit)


async def test_writers_of_different_tools_commit_without_waiting_for_each_other(
    connect: Any,
) -> None:
    a, b = await connect(), await connect()
    for name in ("alpha_tool", "beta_tool"):
        definition = canonical_definition(tool := make_tool(name))
        await tool_store.insert_tools(a, [ToolWrite(tool, definition, 1, make_etag(definition, 1))])

    async with a.transaction():
        first = await tool_store.write_tools(a, [_patch("alpha_tool", "A.")], "test-origin")
        # alpha's batch is published and not committed: beta's batch, from another
        # connection, commits all the same (with one generation row it waited for a's commit).
        second = await asyncio.wait_for(
            tool_store.write_tools(b, [_patch("beta_tool", "B.")], "test-origin"),
            UNBLOCKED_S,
        )
        assert [o.outcome for o in second.outcomes] == ["written"]
        assert first.published is not None
        assert second.published is not None
        # Told the same generation: neither saw the other. Only a lower bound, as documented.
        assert first.published.generation == second.published.generation == 1

    _, after = await _snapshot(await connect())
    assert after.generation == 2
    assert after.sees(first.published.xid)
    assert after.sees(second.published.xid)


async def test_a_snapshot_counts_exactly_the_changes_visible_in_it(connect: Any) -> None:
    a, b, reader = await connect(), await connect(), await connect()
    assert await change_store.fetch_generation(reader) == 0

    tx_a = a.transaction()
    await tx_a.start()
    told_a = await _publish(a, "alpha_tool")
    told_b = await _publish(b, "beta_tool")  # commits at once
    read_tx, between = await _snapshot(reader)
    # b's change is visible and counted, a's (still running) neither.
    assert between.generation == 1
    assert between.sees(told_b.xid)
    assert not between.sees(told_a.xid)
    await tx_a.commit()
    assert await change_store.fetch_generation(reader) == 1  # the same snapshot
    await read_tx.rollback()

    _, after = await _snapshot(await connect())
    assert after.generation == 2
    assert after.sees(told_a.xid)
    # What each writer was told never exceeds a snapshot that sees it.
    assert told_a.generation <= after.generation
    assert told_b.generation <= between.generation


async def test_a_change_rolled_back_is_not_counted(connect: Any) -> None:
    writer, reader = await connect(), await connect()
    await _publish(writer, "alpha_tool")
    tx = writer.transaction()
    await tx.start()
    await _publish(writer, "beta_tool")
    await tx.rollback()
    await _publish(writer, "gamma_tool")

    assert await change_store.fetch_generation(reader) == 2
    names = await reader.fetch("SELECT names FROM catalog_changes ORDER BY id")
    assert [list(r["names"]) for r in names] == [["alpha_tool"], ["gamma_tool"]]


async def test_folding_the_log_keeps_the_count_of_every_snapshot(connect: Any) -> None:
    writer, reader = await connect(), await connect()
    # Up to one change before a fold: every 256th change folds all but the last 1,024.
    async with writer.transaction():
        await writer.execute(
            "SELECT publish_catalog_change('test-origin', '{tool}', false) "
            "FROM generate_series(1, 1279)"
        )
    read_tx, before = await _snapshot(reader)
    assert before.generation == 1279
    assert await reader.fetchval("SELECT count(*) FROM catalog_changes") == 1279

    told = await _publish(writer, "the_fold")  # change 1,280: folds changes 1-256
    assert told.generation == 1280

    # The reader's snapshot still counts its 1,279 (the folded rows are still there for it).
    assert await change_store.fetch_generation(reader) == 1279
    await read_tx.rollback()
    assert await change_store.fetch_generation(reader) == 1280
    assert await reader.fetchval("SELECT count(*) FROM catalog_changes") == 1024
    assert await reader.fetchval("SELECT generation FROM catalog_state") == 256


async def test_a_change_running_during_a_fold_is_folded_later_and_counted_once(
    connect: Any,
) -> None:
    slow, writer, reader = await connect(), await connect(), await connect()
    tx = slow.transaction()
    await tx.start()
    slow_change = await _publish(slow, "slow_tool")  # change 1, not committed
    async with writer.transaction():
        await writer.execute(
            "SELECT publish_catalog_change('test-origin', '{tool}', false) "
            "FROM generate_series(1, 1278)"
        )
    await _publish(writer, "the_fold")  # change 1,280: folds 2-256; 1 is still running
    assert await change_store.fetch_generation(reader) == 1279
    await tx.commit()

    _, after = await _snapshot(await connect())
    assert after.generation == 1280
    assert after.sees(slow_change.xid)
    assert await reader.fetchval("SELECT min(id) FROM catalog_changes") == 1


def test_a_snapshot_sees_what_ended_before_it_and_nothing_running_or_later() -> None:
    position = Position.parse(7, "100:105:101,103")
    assert position.generation == 7
    assert [x for x in range(98, 108) if position.sees(x)] == [98, 99, 100, 102, 104]
    assert Position.parse(0, "5:5:").running == frozenset()
