"""What a process holds against changes it did not hear of in order (catalog/state.py). A whole
read of the catalog (after a missed notice, a reload, another replica's import) against what is
applied to the current version while it reads: our own writes committed after its snapshot and
tools re-read in a later snapshot stay, what the read saw arrives, and a read older than one
that already replaced the version is dropped (each race ordered explicitly: the read is held
between its snapshot and the build of its version). And the catch-up from the change log: a
change whose notice never came is found, one whose notice came is not read twice, changes
folded out of the log unread make a whole read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from builders import make_tool
from toolcatalog.catalog import following as following_module
from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.catalog.state import CatalogState
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store import tools as tool_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.connection_settings import SERVER_SETTINGS, init_connection
from toolcatalog.store.tools import BatchedWrite, ToolWrite

# Liveness bound of the waits below (a hung test fails instead of hanging); no speed asserted.
PATIENCE_S = 30.0


class HeldRead:
    """Holds the state's next whole read after its snapshot was taken (its rows stream in),
    before its version is built, until `release`."""

    def __init__(self, state: CatalogState) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        build = state.whole.build_whole
        calls = 0

        def held(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                self.reached.set()
                self.go.wait(PATIENCE_S)
            return build(*args)

        state.whole.build_whole = held  # type: ignore[method-assign]

    async def snapshot_taken(self) -> None:
        assert await asyncio.to_thread(self.reached.wait, PATIENCE_S)

    def release(self) -> None:
        self.go.set()


@pytest.fixture(autouse=True)
def catch_up_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests call `catch_up` themselves, in their order: no periodic one in between."""
    monkeypatch.setattr(following_module, "CATCH_UP_INTERVAL_S", 3600.0)


@pytest.fixture
async def runtime(fresh_db_url: str, settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings.model_copy(update={"database_url": fresh_db_url})) as rt:
        await rt.catalog.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
        await rt.catalog.get_all_tools_with_structure()  # a version held
        yield rt


async def eventually(condition: Callable[[], bool], what: str) -> None:
    waited = 0.0
    while not condition():
        if waited > PATIENCE_S:
            pytest.fail(f"still waiting after {PATIENCE_S} s for: {what}")
        await asyncio.sleep(0.01)
        waited += 0.01


async def _write_unheard(url: str, name: str, description: str) -> None:
    """Another writer's change of `name` (at revision 1) whose notice nobody hears."""
    conn = await asyncpg.connect(url, server_settings=SERVER_SETTINGS)
    try:
        await init_connection(conn)
        tool = make_tool(name, description=description)
        definition = canonical_definition(tool)
        write = ToolWrite(tool, definition, 2, make_etag(definition, 2))
        audit = AuditWrite("elsewhere", "patch", name, 1, 2, [], None, None)
        done = await tool_store.write_tools(conn, [BatchedWrite(write, 1, audit)], "elsewhere")
        assert [o.outcome for o in done.outcomes] == ["written"]
    finally:
        await conn.close()


def _held(state: CatalogState, name: str) -> Any:
    version = state.current_version
    assert version is not None
    return version.entries[name]


async def test_a_whole_read_keeps_our_write_committed_after_its_snapshot_and_brings_the_rest(
    runtime: Runtime, fresh_db_url: str
) -> None:
    state = runtime.catalog.state
    await _write_unheard(fresh_db_url, "beta_tool", "Changed, notice missed.")
    held = HeldRead(state)
    state.invalidate_all()  # what the listener does on reconnecting
    reading = asyncio.ensure_future(state.version())
    await held.snapshot_taken()

    written = await runtime.catalog.patch_tool("alpha_tool", {"owner": "after the snapshot"})
    held.release()
    version = await asyncio.wait_for(reading, PATIENCE_S)

    assert version is state.current_version
    assert version.entries["alpha_tool"].etag == written.etag  # ours, newer than the read
    assert version.entries["beta_tool"].tool.description == "Changed, notice missed."
    tools = {t.name: t for t in (await runtime.catalog.get_all_tools_with_structure()).tools}
    assert tools["alpha_tool"].owner == "after the snapshot"
    assert (await runtime.catalog.get_tool("alpha_tool")).etag == written.etag


async def test_a_tool_re_read_after_the_whole_reads_snapshot_stays_as_re_read(
    runtime: Runtime, fresh_db_url: str
) -> None:
    state = runtime.catalog.state
    held = HeldRead(state)
    state.invalidate_all()
    reading = asyncio.ensure_future(state.version())
    await held.snapshot_taken()

    await _write_unheard(fresh_db_url, "beta_tool", "Changed after the snapshot.")
    await state.reread(["beta_tool"])  # as a notice naming it would
    assert _held(state, "beta_tool").tool.description == "Changed after the snapshot."
    held.release()
    await asyncio.wait_for(reading, PATIENCE_S)

    assert _held(state, "beta_tool").tool.description == "Changed after the snapshot."
    assert _held(state, "beta_tool").revision == 2


async def test_a_whole_read_older_than_the_one_that_replaced_the_version_is_dropped(
    runtime: Runtime, fresh_db_url: str
) -> None:
    state = runtime.catalog.state
    held = HeldRead(state)
    state.invalidate_all()
    older = asyncio.ensure_future(state.version())
    await held.snapshot_taken()

    await _write_unheard(fresh_db_url, "beta_tool", "Seen by the later read only.")
    await state.reread([], everything=True)  # a second whole read, not held: done first
    assert _held(state, "beta_tool").revision == 2
    held.release()
    await asyncio.wait_for(older, PATIENCE_S)

    assert _held(state, "beta_tool").tool.description == "Seen by the later read only."


def _description(state: CatalogState, name: str) -> str | None:
    version = state.current_version
    entry = version.entries.get(name) if version is not None else None
    return entry.tool.description if entry is not None else None


async def test_a_change_whose_notice_never_came_is_found_in_the_change_log(
    runtime: Runtime, fresh_db_url: str
) -> None:
    state = runtime.catalog.state
    assert await state.catch_up() == []  # nothing since the whole read

    await _write_unheard(fresh_db_url, "beta_tool", "Its writer died before the notice.")
    found = await state.catch_up()

    assert len(found) == 1
    assert (await runtime.catalog.get_tool("beta_tool")).revision == 2
    await eventually(
        lambda: _description(state, "beta_tool") == "Its writer died before the notice.",
        "the version re-read",
    )
    assert await state.catch_up() == []


async def test_a_change_whose_notice_comes_while_the_log_is_read_is_not_missed(
    runtime: Runtime, fresh_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The notice of a change committed before the log's read arrives during that read (seen
    # under load): it is applied as it comes, so the catch-up must not report the change
    # missed and forget its tools again after a reader re-read them.
    state = runtime.catalog.state
    await _write_unheard(fresh_db_url, "beta_tool", "Announced while the log is read.")
    fetch = following_module.change_store.fetch_changes_after

    async def notice_arrives_meanwhile(conn: Any, followed: Any) -> Any:
        position, changes = await fetch(conn, followed)
        for change in changes:
            state.follower.apply_change(
                ChangeNotice(change.origin, position.generation, change.names, change=change.id)
            )
        return position, changes

    monkeypatch.setattr(
        following_module.change_store, "fetch_changes_after", notice_arrives_meanwhile
    )
    assert await state.catch_up() == []
    monkeypatch.setattr(following_module.change_store, "fetch_changes_after", fetch)
    assert await state.catch_up() == []  # nothing left over for the next one either


async def test_a_change_whose_notice_came_is_not_read_again(
    fresh_db_url: str, settings: Settings
) -> None:
    shared = settings.model_copy(update={"database_url": fresh_db_url})
    async with open_runtime(shared) as a, open_runtime(shared) as b:
        heard: list[ChangeNotice] = []  # a's notices, as b hears them
        b.catalog.state.add_change_listener(
            lambda n: heard.append(n) if n.origin == a.catalog.state.origin else None
        )
        assert b.listener is not None
        await b.catalog.get_all_tools_with_structure()
        await eventually(b.listener.connected.is_set, "b listens")
        await a.catalog.import_definitions([make_tool("alpha_tool")])
        # The import's notice must be in before the patch: heard late, it would make b re-read
        # alpha_tool after the patch, so b would hold the patched tool before the patch's own
        # notice came (notices go out up to ANNOUNCE_PAUSE_S after their commit).
        await eventually(lambda: len(heard) == 1, "b hears the import")
        await b.catalog.state.catch_up()

        written = await a.catalog.patch_tool("alpha_tool", {"owner": "heard"})
        await eventually(
            lambda: (
                len(heard) == 2
                and (held := b.catalog.state.held_tool("alpha_tool")) is not None
                and held.etag == written.etag
            ),
            "b hears the notice",
        )

        assert await b.catalog.state.catch_up() == []
        assert await a.catalog.state.catch_up() == []  # its own change


async def test_changes_folded_out_of_the_log_unread_make_a_whole_read(
    runtime: Runtime, fresh_db_url: str
) -> None:
    state = runtime.catalog.state
    await _write_unheard(fresh_db_url, "beta_tool", "Folded away.")
    conn = await asyncpg.connect(fresh_db_url, server_settings=SERVER_SETTINGS)
    try:  # 1,300 more changes without notices: the first ones are folded out of the log
        await conn.execute(
            "SELECT publish_catalog_change('elsewhere', '{}', false) FROM generate_series(1, 1300)"
        )
        assert await conn.fetchval("SELECT min(id) FROM catalog_changes") > 1
    finally:
        await conn.close()

    await state.catch_up()

    await eventually(lambda: _description(state, "beta_tool") == "Folded away.", "read again")
