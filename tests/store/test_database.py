"""Database fault handling against the real server: when a timeout means "down" and when it
only means "slow". (Stopping the server for real is tests/e2e/test_faults.py.)"""

from __future__ import annotations

import pytest

from toolcatalog.config import Settings
from toolcatalog.errors import StoreUnavailable
from toolcatalog.runtime import Runtime, open_runtime


async def _slow_query(runtime: Runtime) -> None:
    async with runtime.db.connection("slow") as conn:
        await conn.execute("SELECT pg_sleep(1)")


async def test_timeouts_mean_down_only_when_several_come_in_a_row(
    fresh_db_url: str, settings: Settings
) -> None:
    impatient = settings.model_copy(
        update={"database_url": fresh_db_url, "db_command_timeout_s": 0.05}
    )
    async with open_runtime(impatient, listen=False, migrate=False) as runtime:
        recovered: list[str] = []
        runtime.db.add_recovery_callback(lambda: recovered.append("recovered"))
        for _ in range(2):
            with pytest.raises(StoreUnavailable, match="did not answer in time"):
                await _slow_query(runtime)
        assert runtime.db.available  # a busy server is not a dead one
        await runtime.catalog.tool_count()  # a success starts the count again
        for _ in range(2):
            with pytest.raises(StoreUnavailable):
                await _slow_query(runtime)
        assert runtime.db.available
        assert recovered == []

        with pytest.raises(StoreUnavailable):
            await _slow_query(runtime)  # the third in a row
        assert not runtime.db.available
        await runtime.catalog.tool_count()
        assert runtime.db.available
        assert recovered == ["recovered"]
