"""DatabaseHealth: a process's first health request reports a definite state (a count from
the real database, or unreachable), never an unknown count because the first probe was slow."""

from __future__ import annotations

import asyncio

from builders import make_tool
from toolcatalog.catalog.health import ANSWER_WITHIN_S, DatabaseHealth
from toolcatalog.catalog.service import ToolCatalogService


async def test_the_first_request_waits_for_a_slow_first_count(service: ToolCatalogService) -> None:
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])

    async def slow_count() -> int:
        # slower than a later request waits, as on a busy machine
        await asyncio.sleep(ANSWER_WITHIN_S * 2)
        return await service.tool_count()

    health = DatabaseHealth(slow_count, probe_timeout_s=5.0)
    state = await health.current()
    assert state is not None
    assert state.reachable
    assert state.tool_count == 2
    # a later request answers at once with what is known
    assert await health.current() is state
    await health.close()


async def test_the_first_request_reports_a_silent_database_unreachable() -> None:
    never = asyncio.Event()

    async def hung_count() -> int:
        await never.wait()
        return 0

    health = DatabaseHealth(hung_count, probe_timeout_s=0.3)
    state = await health.current()
    assert state is not None
    assert not state.reachable
    assert state.tool_count is None
    assert state.error is not None
    assert "no answer within 0.3 s" in state.error
    await health.close()
