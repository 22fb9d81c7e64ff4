"""The in-process cache: LRU and TTL, single flight, invalidation racing a load, and the
service's cached reads against the real database (hit rate, no query on a hit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from builders import make_tool
from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.errors import NotFound
from toolcatalog.metrics import Samples
from toolcatalog.runtime import Runtime, open_runtime


def _queries(operation: str) -> float:
    return Samples.collect().total(
        "toolcatalog_db_query_duration_seconds_count", operation=operation
    )


async def _value(v: str) -> str:
    return v


async def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=2, ttl_s=60)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.hit("a") == "A"  # a is now more recent than b
    cache.put("c", "C")
    assert cache.peek("b") is None
    assert cache.peek("a") == "A"
    assert cache.peek("c") == "C"
    assert cache.stats().evictions == 1
    assert len(cache) == 2


async def test_an_expired_entry_is_reloaded_but_can_still_be_served_stale() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=0.01)
    cache.put("a", "old")
    await asyncio.sleep(0.02)
    assert cache.hit("a") is None
    assert cache.peek("a") is None
    assert cache.peek("a", allow_stale=True) == "old"

    async def failing() -> str:
        raise OSError("database away")

    with pytest.raises(OSError, match="database away"):
        await cache.get_or_load("a", failing)
    assert cache.peek("a", allow_stale=True) == "old"  # a failed reload keeps the stale copy
    assert await cache.get_or_load("a", lambda: _value("new")) == "new"


async def test_concurrent_misses_share_one_load() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=60)
    release = asyncio.Event()
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "value"

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == ["value"] * 50
    assert calls == 1
    assert cache.stats().misses == 50
    assert await cache.get_or_load("k", load) == "value"
    assert cache.stats().hits == 1


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=60)
    release = asyncio.Event()

    async def load() -> str:
        await release.wait()
        raise NotFound("no tool named 'k'")

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, NotFound) for r in results)
    assert cache.peek("k") is None
    assert await cache.get_or_load("k", lambda: _value("later")) == "later"


async def test_a_cancelled_caller_does_not_cancel_the_shared_load() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=60)
    release = asyncio.Event()

    async def load() -> str:
        await release.wait()
        return "value"

    first = asyncio.create_task(cache.get_or_load("k", load))
    second = asyncio.create_task(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "value"
    assert first.cancelled()
    assert cache.peek("k") == "value"


async def test_a_load_that_started_before_an_invalidation_is_not_stored_nor_shared() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=60)
    release = asyncio.Event()

    async def old_load() -> str:
        await release.wait()
        return "before the write"

    reader = asyncio.create_task(cache.get_or_load("k", old_load))
    await asyncio.sleep(0)
    cache.invalidate("k")  # a write committed while the read was in flight
    after = await cache.get_or_load("k", lambda: _value("after the write"))
    release.set()
    assert await reader == "before the write"  # it started first: it may see the old state
    assert after == "after the write"
    assert cache.peek("k") == "after the write"


async def test_clear_empties_the_cache_and_counts_the_evictions() -> None:
    cache: AsyncLRUCache[str] = AsyncLRUCache("test", max_size=10, ttl_s=60)
    for key in "abc":
        cache.put(key, key.upper())
    cache.clear()
    assert len(cache) == 0
    assert cache.stats().evictions == 3


async def test_repeated_reads_hit_the_cache_at_least_99_percent(
    service: ToolCatalogService,
) -> None:
    names = [f"tool_{i}" for i in range(10)]
    await service.import_definitions([make_tool(n) for n in names])
    service.invalidate_all()
    before = service.state.tools.stats()
    for _ in range(100):
        for name in names:
            await service.get_tool(name)
    stats = service.state.tools.stats()
    hits, misses = stats.hits - before.hits, stats.misses - before.misses
    assert (hits, misses) == (990, 10)
    assert hits / (hits + misses) >= 0.99


async def test_a_cached_read_does_no_query_no_validation_and_no_encoding(
    service: ToolCatalogService,
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    service.invalidate_all()
    first = await service.get_tool("alpha_tool")
    queries = _queries("fetch_tool")
    again = await service.get_tool("alpha_tool")
    # The very same object: the model, the encoded bytes and the ETag made on the miss.
    assert again is first
    assert _queries("fetch_tool") == queries


@pytest.fixture
async def pooled(fresh_db_url: str, settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime with a real pool (single flight is about concurrent connections)."""
    pooled = settings.model_copy(update={"database_url": fresh_db_url, "pool_max_size": 10})
    async with open_runtime(pooled, listen=False) as runtime:
        yield runtime


async def test_concurrent_misses_for_one_tool_cause_one_database_query(pooled: Runtime) -> None:
    await pooled.catalog.create_tool(make_tool("alpha_tool"))
    pooled.catalog.invalidate_all()
    queries = _queries("fetch_tool")
    results = await asyncio.gather(*(pooled.catalog.get_tool("alpha_tool") for _ in range(50)))
    assert _queries("fetch_tool") - queries == 1
    assert all(r is results[0] for r in results)
