"""An in-process LRU cache with a TTL and single-flight loading.

Concurrent misses for one key share one load (one database query). Invalidation is by key or
whole; a load that was in flight when its key was invalidated is neither stored nor shared
with later callers, so a read that starts after a write never sees what was there before it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from toolcatalog import metrics

V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float  # time.monotonic() seconds


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    size: int
    max_size: int
    ttl_s: float

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a failed load's exception as seen even if every caller went away (cancelled);
    # otherwise asyncio logs "exception was never retrieved".
    if not task.cancelled():
        task.exception()


EVICTION_REASONS = ("expired", "size", "invalidated")


class AsyncLRUCache(Generic[V]):
    """LRU + TTL. `get_or_load` runs at most one loader per key at a time; the load runs in
    its own task, so a caller that is cancelled (client gone) does not fail the others."""

    def __init__(self, name: str, max_size: int, ttl_s: float) -> None:
        self.name = name
        self.max_size = max_size
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V]] = {}
        # When each load in flight started (get_or_stale); entries go with their loads.
        self._load_started: weakref.WeakKeyDictionary[asyncio.Future[V], float] = (
            weakref.WeakKeyDictionary()
        )
        self.hits = self.misses = self.evictions = 0
        # Bound children: the hot path must not look labels up on every call.
        self._hit_counter = metrics.CACHE_HITS.labels(name)
        self._miss_counter = metrics.CACHE_MISSES.labels(name)
        self._size_gauge = metrics.CACHE_SIZE.labels(name)
        for reason in EVICTION_REASONS:  # exported at 0 from the start: rate() reads 0, not nothing
            metrics.CACHE_EVICTIONS.labels(name, reason)

    def peek(self, key: str, *, allow_stale: bool = False) -> V | None:
        """The cached value without loading and without counting; with `allow_stale`, also an
        entry past its TTL (serving while the database is away)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at < time.monotonic() and not allow_stale:
            return None
        return entry.value

    def count_hit(self) -> None:
        """A read answered from memory beside this cache (the catalog version) counts as a
        hit of it."""
        self.hits += 1
        self._hit_counter.inc()

    def hit(self, key: str) -> V | None:
        """The fresh cached value, counted as a hit; None (not counted) when absent or expired,
        and the caller goes on to `get_or_load`, which counts the miss. Synchronous: the fast
        path of cached reads calls it without a suspension point."""
        entry = self._fresh(key)
        return entry.value if entry is not None else None

    def _fresh(self, key: str) -> _Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at < time.monotonic():
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        self._hit_counter.inc()
        return entry

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or the result of `loader()` (stored). Exceptions of the loader
        reach every caller waiting on it and are not cached."""
        entry = self._fresh(key)
        if entry is not None:
            return entry.value
        # An expired entry stays until its reload succeeds: `peek(allow_stale=True)` can still
        # serve it if the database is away.
        # shield: one caller's cancellation must not cancel the shared load.
        return await asyncio.shield(self._start_load(key, loader))

    async def get_or_stale(
        self,
        key: str,
        loader: Callable[[], Awaitable[V]],
        wait_s: float,
        fallback: V | None = None,
    ) -> tuple[V, bool]:
        """Like `get_or_load`, but when an expired entry (else `fallback`) is there and the
        reload has not finished `wait_s` after it started, that value, flagged stale (True);
        the reload goes on and stores its result for later callers. A hung database then
        delays reads by `wait_s` at most once, not each by the command timeout."""
        entry = self._fresh(key)
        if entry is not None:
            return entry.value, False
        held = self._entries.get(key)
        expired = held.value if held is not None else fallback
        load = self._start_load(key, loader)
        if expired is None:
            return await asyncio.shield(load), False
        left = wait_s - (time.monotonic() - self._load_started.get(load, time.monotonic()))
        if left > 0:
            await asyncio.wait({load}, timeout=left)
        if load.done():
            return load.result(), False
        return expired, True

    def _start_load(self, key: str, loader: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        """Count a miss and start the load of `key`, or join the one in flight."""
        self.misses += 1
        self._miss_counter.inc()
        load = self._inflight.get(key)
        if load is None:
            load = asyncio.ensure_future(self._load(key, loader))
            load.add_done_callback(_retrieve)
            self._inflight[key] = load
            self._load_started[load] = time.monotonic()
        return load

    async def _load(self, key: str, loader: Callable[[], Awaitable[V]]) -> V:
        me = asyncio.current_task()
        try:
            value = await loader()
        finally:
            still_current = self._inflight.get(key) is me
            if still_current:
                del self._inflight[key]
        if still_current:  # not invalidated while loading
            self.put(key, value)
        return value

    def put(self, key: str, value: V) -> None:
        old = self._entries.get(key)
        if old is not None and old.expires_at < time.monotonic():
            self.evictions += 1
            metrics.CACHE_EVICTIONS.labels(self.name, "expired").inc()
        self._entries[key] = _Entry(value, time.monotonic() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            oldest = next(iter(self._entries))
            self._drop(oldest, "size")
        self._size_gauge.set(len(self._entries))

    def invalidate(self, key: str) -> None:
        """Forget `key`, and detach a load in flight for it so later callers start afresh."""
        self._inflight.pop(key, None)
        if key in self._entries:
            self._drop(key, "invalidated")

    def clear(self) -> None:
        self._inflight.clear()
        n = len(self._entries)
        self._entries.clear()
        if n:
            self.evictions += n
            metrics.CACHE_EVICTIONS.labels(self.name, "invalidated").inc(n)
        self._size_gauge.set(0)

    def _drop(self, key: str, reason: str) -> None:
        del self._entries[key]
        self.evictions += 1
        metrics.CACHE_EVICTIONS.labels(self.name, reason).inc()
        self._size_gauge.set(len(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        return CacheStats(
            self.hits, self.misses, self.evictions, len(self._entries), self.max_size, self.ttl_s
        )
