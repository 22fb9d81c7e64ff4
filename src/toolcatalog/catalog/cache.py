"""An in-process LRU cache with a TTL and single-flight loading.

Concurrent misses for one key share one load (one database query). Each entry remembers
the catalog generation it was loaded at; invalidation is by key, by prefix or whole.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from toolcatalog import metrics

V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


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


class AsyncLRUCache(Generic[V]):
    """LRU + TTL; `get_or_load` runs at most one loader per key at a time."""

    def __init__(self, name: str, max_size: int, ttl_s: float) -> None:
        self.name = name
        self.max_size = max_size
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V]] = {}
        self._epoch = 0  # bumped by invalidation: a load that started before it is not stored
        self.hits = self.misses = self.evictions = 0
        self._hit_counter = metrics.CACHE_HITS.labels(name)
        self._miss_counter = metrics.CACHE_MISSES.labels(name)
        self._size_gauge = metrics.CACHE_SIZE.labels(name)

    def peek(self, key: str, *, allow_stale: bool = False) -> V | None:
        """The cached value without loading; counts a hit when found fresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at < time.monotonic() and not allow_stale:
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.expires_at >= now:
            self._entries.move_to_end(key)
            self.hits += 1
            self._hit_counter.inc()
            return entry.value
        if entry is not None:
            self._drop(key, "expired")
        pending = self._inflight.get(key)
        self.misses += 1
        self._miss_counter.inc()
        if pending is not None:
            # Another request is already loading this key: share its result (single flight).
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        epoch = self._epoch
        try:
            value = await loader()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            if epoch == self._epoch:
                self.put(key, value)
            return value
        finally:
            self._inflight.pop(key, None)

    def put(self, key: str, value: V) -> None:
        self._entries[key] = _Entry(value, time.monotonic() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            oldest = next(iter(self._entries))
            self._drop(oldest, "size")
        self._size_gauge.set(len(self._entries))

    def invalidate(self, key: str) -> None:
        self._epoch += 1
        if key in self._entries:
            self._drop(key, "invalidated")

    def clear(self) -> None:
        self._epoch += 1
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
