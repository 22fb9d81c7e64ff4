"""Change notices between replicas over LISTEN/NOTIFY, against the real server: committed
writes reach other replicas, rolled-back ones do not, and a listener whose connection is
killed reconnects and invalidates everything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from builders import make_tool
from toolcatalog.catalog.changes import ChangeListener, ChangeNotice, notify_change
from toolcatalog.config import Settings
from toolcatalog.model.listing import ToolFilter
from toolcatalog.runtime import Runtime, open_runtime

# Liveness bound of the polling below; how fast notices travel is measured in bench/, not here.
PATIENCE_S = 15.0


async def eventually(condition: Callable[[], bool], what: str) -> float:
    """Wait until `condition()` holds; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > PATIENCE_S:
            pytest.fail(f"still waiting after {PATIENCE_S} s for: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_a_notice_survives_encoding() -> None:
    notice = ChangeNotice("replica-a", 42, ("grep", "awk"))
    assert ChangeNotice.decode(notice.encode()) == notice


def test_a_notice_naming_too_many_tools_says_everything() -> None:
    notice = ChangeNotice("a", 1, tuple(f"tool_{i}" for i in range(500)))
    decoded = ChangeNotice.decode(notice.encode())
    assert decoded.everything
    assert decoded.names == ()
    assert len(notice.encode()) < 8000  # PostgreSQL's payload limit


def test_an_unreadable_notice_means_everything_changed() -> None:
    assert ChangeNotice.decode("not json").everything
    assert ChangeNotice.decode('{"names": []}').everything


@pytest.fixture
async def listener(fresh_db_url: str) -> AsyncIterator[tuple[ChangeListener, list[object]]]:
    events: list[object] = []
    listener = ChangeListener(fresh_db_url, events.append, lambda: events.append("reconnect"))
    listener.start()
    await asyncio.wait_for(listener.connected.wait(), PATIENCE_S)
    yield listener, events
    await listener.stop()


async def test_only_committed_writes_are_heard(
    listener: tuple[ChangeListener, list[object]], fresh_db_url: str
) -> None:
    _, events = listener
    conn = await asyncpg.connect(fresh_db_url)
    try:
        async with conn.transaction():
            await notify_change(conn, ChangeNotice("other", 1, ("committed_tool",)))
        tx = conn.transaction()
        await tx.start()
        await notify_change(conn, ChangeNotice("other", 2, ("rolled_back_tool",)))
        await tx.rollback()
        async with conn.transaction():
            await notify_change(conn, ChangeNotice("other", 3, ("last_tool",)))
    finally:
        await conn.close()
    await eventually(lambda: len(events) >= 2, "two notices")
    assert events == [
        ChangeNotice("other", 1, ("committed_tool",)),
        ChangeNotice("other", 3, ("last_tool",)),
    ]


async def test_a_killed_listener_reconnects_and_asks_to_invalidate_everything(
    listener: tuple[ChangeListener, list[object]], fresh_db_url: str
) -> None:
    listen, events = listener
    killed = listen.backend_pid
    admin = await asyncpg.connect(fresh_db_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
        await eventually(lambda: "reconnect" in events, "the reconnect callback")
        assert listen.reconnects == 1
        assert listen.backend_pid not in (None, killed)
        # and it hears notices again
        await notify_change(admin, ChangeNotice("other", 7, ("after_reconnect",)))
        await eventually(lambda: len(events) >= 2, "a notice after the reconnect")
        assert events[-1] == ChangeNotice("other", 7, ("after_reconnect",))
    finally:
        await admin.close()


@pytest.fixture
async def replicas(fresh_db_url: str, settings: Settings) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database, as two replicas would be (in one process here; the
    cross-process case is tests/e2e/test_replicas.py)."""
    shared = settings.model_copy(update={"database_url": fresh_db_url})
    async with open_runtime(shared) as a, open_runtime(shared) as b:
        yield a, b


async def test_a_write_in_one_replica_invalidates_the_other_precisely(
    replicas: tuple[Runtime, Runtime],
) -> None:
    a, b = replicas
    heard: list[int] = []
    b.catalog.add_change_listener(lambda notice: heard.append(notice.generation))
    report = await a.catalog.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    # Cached only after b heard of the import: its notice would drop what b cached before.
    await eventually(lambda: report.generation in heard, "b hears of the import")
    await b.catalog.get_tool("alpha_tool")
    await b.catalog.get_tool("beta_tool")
    await b.catalog.get_all_tools_with_structure()
    assert b.catalog.state.held_tool("alpha_tool") is not None

    await a.catalog.replace_tool("alpha_tool", make_tool("alpha_tool", description="Changed."))

    def b_answers_alpha_from_memory_only_changed() -> bool:
        held = b.catalog.state.held_tool("alpha_tool")
        return held is None or held.tool.description == "Changed."

    await eventually(b_answers_alpha_from_memory_only_changed, "b stops answering the old alpha")
    assert b.catalog.state.held_tool("beta_tool") is not None  # untouched tools stay held

    def b_holds_the_change() -> bool:
        # b re-reads the import's tools beside its readers too: until that lands, its version
        # may not hold alpha_tool at all (a lag, not a loss), so a missing name means "not yet".
        snapshot = b.catalog.peek_snapshot()
        alpha = None if snapshot is None else snapshot.by_name.get("alpha_tool")
        return alpha is not None and alpha.description == "Changed."

    # b's catalog version takes the change in, re-reading only alpha_tool, beside its readers.
    await eventually(b_holds_the_change, "b's version holds the change")
    assert (await b.catalog.get_tool("alpha_tool")).tool.description == "Changed."


async def test_reload_invalidates_every_replica(replicas: tuple[Runtime, Runtime]) -> None:
    a, b = replicas
    await a.catalog.import_definitions([make_tool("alpha_tool")])
    await b.catalog.get_tool("alpha_tool")
    await a.catalog.reload_all(trigger="cli")
    await eventually(lambda: len(b.catalog.state.tools) == 0, "b forgets everything")
    assert a.catalog.reloads[-1]["success"] is True


async def test_a_replica_whose_listener_was_killed_forgets_everything(
    replicas: tuple[Runtime, Runtime], fresh_db_url: str
) -> None:
    a, _ = replicas
    await a.catalog.import_definitions([make_tool("alpha_tool")])
    await a.catalog.get_tool("alpha_tool")
    assert a.listener is not None
    admin = await asyncpg.connect(fresh_db_url)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", a.listener.backend_pid)
    finally:
        await admin.close()
    await eventually(lambda: a.listener is not None and a.listener.reconnects == 1, "reconnect")
    assert len(a.catalog.state.tools) == 0  # notices may have been missed
    assert (await a.catalog.get_tool("alpha_tool")).tool.name == "alpha_tool"


async def test_a_listened_catalog_does_not_expire_and_an_unlistened_one_does(
    fresh_db_url: str, settings: Settings
) -> None:
    # A whole re-read every TTL is what a listener makes needless (and at 100,000 tools it
    # took longer than the TTL): with one connected, memory keeps answering past the TTL.
    short = settings.model_copy(update={"database_url": fresh_db_url, "cache_ttl_s": 0.001})
    async with open_runtime(short) as listened:
        await listened.catalog.import_definitions([make_tool("alpha_tool")])
        listener = listened.listener
        assert listener is not None
        await eventually(listener.connected.is_set, "the listener connects")
        await listened.catalog.list_tools(ToolFilter())  # the version is read
        time.sleep(0.01)  # noqa: ASYNC251 - past the TTL, on purpose
        assert listened.catalog.state.held_tool("alpha_tool") is not None
    async with open_runtime(short, listen=False) as unlistened:
        await unlistened.catalog.list_tools(ToolFilter())
        time.sleep(0.01)  # noqa: ASYNC251 - past the TTL, on purpose
        assert unlistened.catalog.state.held_tool("alpha_tool") is None


@pytest.mark.parametrize("turns", range(6))
async def test_stop_ends_the_listener_when_a_drop_and_the_stop_come_together(
    fresh_db_url: str, turns: int
) -> None:
    """A drop noticed in the same turns as the stop's cancellation: Python 3.11's
    `asyncio.wait_for` returns normally when its inner wait has just finished as the task is
    cancelled, which once left the listener reconnecting forever and `stop()` waiting on it
    (seen as a selection process that outlived SIGTERM by 30 s and more)."""
    listener = ChangeListener(fresh_db_url, lambda _n: None, lambda: None, check_interval_s=30)
    listener.start()
    await asyncio.wait_for(listener.connected.wait(), PATIENCE_S)
    task = listener._task
    assert task is not None
    await asyncio.sleep(0.05)  # in its watch, waiting for a drop
    listener._dropped.set()
    for _ in range(turns):
        await asyncio.sleep(0)
    stopping = asyncio.ensure_future(listener.stop())
    done, _ = await asyncio.wait({stopping}, timeout=PATIENCE_S)
    assert done, f"stop() still waiting after {PATIENCE_S} s"
    assert task.done()
