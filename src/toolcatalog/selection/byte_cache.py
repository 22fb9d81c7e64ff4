"""An LRU bounded in bytes, for what selection remembers per request text.

Request texts are the caller's: entry counts alone let unique 4,000-character requests grow a
worker by ~8.3 MB per 1,000 requests, up to ~0.55 GB (a QUERY_CACHE_SIZE-entry embedding
cache plus 65,536-entry term caches). Each cache here accounts its keys and values in bytes
and drops the least recently used entries past its share of TOOLCATALOG_SELECT_CACHE_MAX_BYTES.
Thread-safe: the semantic encoder and the selection thread pool call in concurrently.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

# Per entry beyond its key and value: the OrderedDict node and the (value, size) tuple.
ENTRY_OVERHEAD = 120
# TOOLCATALOG_SELECT_CACHE_MAX_BYTES' default (config.py): the budget until a Selector sets it.
DEFAULT_SELECT_CACHE_BYTES = 32 * 1024 * 1024


def text_bytes(text: str) -> int:
    """What a str costs in memory (header included)."""
    return sys.getsizeof(text)


def terms_bytes(terms: tuple[str, ...]) -> int:
    """A tuple of terms; terms repeat across texts and are often interned, so this is an
    upper bound."""
    return sys.getsizeof(terms) + sum(sys.getsizeof(t) for t in terms)


class ByteLRU(Generic[V]):
    """Keys are texts; `size(value)` gives a value's bytes. `nbytes` never exceeds
    `max_bytes` after a `put` (an entry larger than the whole budget is not kept)."""

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def get(self, key: str) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: str, value: V) -> None:
        cost = text_bytes(key) + self._size(value) + ENTRY_OVERHEAD
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if cost > self.max_bytes:
                return
            self._entries[key] = (value, cost)
            self.nbytes += cost
            while self.nbytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.nbytes -= dropped

    def resize(self, max_bytes: int) -> None:
        """A new budget; entries past it are dropped, oldest first."""
        with self._lock:
            self.max_bytes = max_bytes
            while self.nbytes > max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.nbytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def memoised(self, compute: Callable[[str], V]) -> Callable[[str], V]:
        """`compute` through this cache (a failure is raised, not remembered)."""

        def cached(key: str) -> V:
            found = self.get(key)
            if found is None:
                found = compute(key)
                self.put(key, found)
            return found

        return cached
