"""Database fault handling against the real server: when a timeout means "down" and when it
only means "slow". (Stopping the server for real is tests/e2e/test_faults.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from builders import make_settings, make_tool
from toolcatalog.config import Settings
from toolcatalog.errors import Busy, StoreUnavailable
from toolcatalog.runtime import open_runtime
from toolcatalog.store.database import Database

# Statements time out after IMPATIENT_S; the slow one sleeps far longer, and the quick ones
# have ample time even on a CPU-starved machine, so which of them time out is certain.
IMPATIENT_S = 2.0


async def _slow_query(db: Database) -> None:
    async with db.connection("slow") as conn:
        await conn.execute("SELECT pg_sleep(60)")


async def _quick_query(db: Database) -> None:
    async with db.connection("query") as conn:
        await conn.fetchval("SELECT 1")


@asynccontextmanager
async def _impatient_database(url: str, settings: Settings) -> AsyncIterator[Database]:
    """The database alone, without a runtime: the runtime's background work (learning
    refresh, recorders) queries on its own schedule, and one of its queries landing between
    the test's would reset or extend the count of timeouts in a row."""
    db = Database(
        settings.model_copy(update={"database_url": url, "db_command_timeout_s": IMPATIENT_S})
    )
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def test_timeouts_mean_down_only_when_several_come_in_a_row(
    fresh_db_url: str, settings: Settings
) -> None:
    async with _impatient_database(fresh_db_url, settings) as db:
        recovered: list[str] = []
        db.add_recovery_callback(lambda: recovered.append("recovered"))
        for _ in range(2):
            with pytest.raises(StoreUnavailable, match="did not answer in time"):
                await _slow_query(db)
        assert db.available  # a busy server is not a dead one
        await _quick_query(db)  # a success starts the count again
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                await _slow_query(db)
        assert db.available
        assert recovered == []

        with pytest.raises(StoreUnavailable):
            await _slow_query(db)  # the third in a row
        assert not db.available
        await _quick_query(db)
        assert db.available
        assert recovered == ["recovered"]


async def test_a_client_side_protocol_error_is_unavailable_and_never_counts_as_a_success(
    fresh_db_url: str, settings: Settings
) -> None:
    # asyncpg raises InternalClientError subclasses (ProtocolError: "cannot process message
    # ... in this state") when the server stops in the middle of an answer. Raised here in a
    # real connection block, after two timeouts: it is the third ambiguous failure in a row.
    async with _impatient_database(fresh_db_url, settings) as db:
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                await _slow_query(db)

        async def cut_mid_answer() -> None:
            async with db.connection("query") as conn:
                await conn.fetchval("SELECT 1")
                raise asyncpg.ProtocolError("cannot process message 0x44 in this state")

        with pytest.raises(StoreUnavailable, match="unreachable: ProtocolError"):
            await cut_mid_answer()
        assert not db.available


async def test_a_write_waiting_on_a_row_lock_is_refused_as_busy_not_as_an_outage(
    fresh_db_url: str, tmp_path: Path
) -> None:
    # The statement timeout stays at its default (5 s), far above the lock timeout, as in
    # production: with 1.5 s, a lock wait's error that came back late on a starved machine
    # lost the race to the client's timeout and was an outage (StoreUnavailable), not Busy.
    settings = make_settings(fresh_db_url, tmp_path, db_lock_timeout_s=0.2)
    async with open_runtime(settings, listen=False, migrate=False) as runtime:
        catalog = runtime.catalog
        await catalog.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
        await catalog.get_tool("beta_tool")
        holder = await asyncpg.connect(fresh_db_url)
        try:
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM tool_catalog.tools WHERE name = 'alpha_tool' FOR UPDATE"
                )
                for i in range(4):  # more waits than the timeouts in a row that mean "down"
                    with pytest.raises(Busy, match="TOOLCATALOG_DB_LOCK_TIMEOUT_S"):
                        await catalog.patch_tool("alpha_tool", {"description": f"Blind {i}."})
        finally:
            await holder.close()
        assert runtime.db.available
        assert catalog.peek_tool("beta_tool") is not None  # nothing dropped
        written = await catalog.patch_tool("alpha_tool", {"description": "After the lock."})
        assert written.tool.description == "After the lock."


async def _one_connection(url: str, settings: Settings) -> Database:
    one = settings.model_copy(update={"database_url": url, "pool_min_size": 1, "pool_max_size": 1})
    db = Database(one)
    await db.open()
    return db


async def test_a_connection_goes_back_to_the_pool_beside_its_user_reset_and_awaited_at_close(
    fresh_db_url: str, settings: Settings
) -> None:
    # One pooled connection: each block's release (run beside the block's caller, see
    # Database._acquired) must be done before the next block can have it.
    db = await _one_connection(fresh_db_url, settings)
    try:
        async with db.connection("set") as conn:
            await conn.execute("SET statement_timeout = '123s'")
        for _ in range(5):
            async with db.transaction("read") as conn:
                # The release still resets the session: the setting did not outlive its use.
                assert await conn.fetchval("SHOW statement_timeout") != "123s"
            async with db.statement("read") as conn:
                assert await conn.fetchval("SELECT 1") == 1
        assert db.pool_stats() == (1, 1)  # the last release has not run yet
    finally:
        await db.close()  # waits for it
    assert db.pool_stats() == (0, 0)


async def test_a_statement_block_goes_back_without_the_reset_query_but_one_that_fails_with_it(
    fresh_db_url: str, settings: Settings
) -> None:
    # `statement` callers promise to leave no session state, so their connection skips the
    # pool's reset query (one round trip fewer a write). The test breaks that promise on
    # purpose to see which releases reset: the setting outlives a clean statement block,
    # not a failed one, nor a `connection` block.
    db = await _one_connection(fresh_db_url, settings)

    async def timeout_seen() -> str:
        async with db.connection("show") as conn:
            return str(await conn.fetchval("SHOW statement_timeout"))

    async def set_then_fail() -> None:
        async with db.statement("set") as conn:
            await conn.execute("SET statement_timeout = '123s'")
            raise ValueError("refused")

    try:
        default = await timeout_seen()
        async with db.statement("set") as conn:
            await conn.execute("SET statement_timeout = '123s'")
        assert await timeout_seen() == "123s"  # no reset after the statement block
        assert await timeout_seen() == default  # but after the `connection` block
        with pytest.raises(ValueError, match="refused"):
            await set_then_fail()
        assert await timeout_seen() == default
    finally:
        await db.close()
