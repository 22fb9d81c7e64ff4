"""Text embeddings shared by every replica through the database's tool_cache (see
store/derived.py): a replica or worker that starts with an empty local cache fetches what
another one computed instead of embedding the catalog again, and publishes what it computes.

The embedding runs in a background thread while the database pool lives on the service's
event loop, so each call is handed to that loop and waited for with a time limit. Sharing is
an optimisation: when it fails, embedding goes on locally (see EmbeddingCache)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import TypeVar

import numpy as np

from toolcatalog.selection.encoders.minilm import Array
from toolcatalog.store.database import Database
from toolcatalog.store.derived import forget_derived, get_derived, put_derived

TIMEOUT_S = 60.0
T = TypeVar("T")


class DatabaseVectors:
    """SharedVectors over a Database whose pool runs on `loop`."""

    def __init__(
        self, db: Database, loop: asyncio.AbstractEventLoop, timeout_s: float = TIMEOUT_S
    ) -> None:
        self.db = db
        self.loop = loop
        self.timeout_s = timeout_s
        self._loop_thread = threading.get_ident()  # made on the loop's own thread

    def fetch(self, kind: str, keys: Sequence[bytes], size: int) -> dict[bytes, Array]:
        payloads = self._call(get_derived(self.db, kind, [k.hex() for k in keys]))
        out: dict[bytes, Array] = {}
        for digest, payload in payloads.items():
            if len(payload) == 4 * size:  # anything else is not one of ours: ignore it
                out[bytes.fromhex(digest)] = np.frombuffer(payload, dtype="<f4").astype(np.float32)
        return out

    def publish(self, kind: str, vectors: Mapping[bytes, Array]) -> None:
        payloads = {k.hex(): np.asarray(v, dtype="<f4").tobytes() for k, v in vectors.items()}
        self._call(put_derived(self.db, kind, payloads))

    def forget(self, kind: str, keep: Sequence[bytes], older_than_s: float) -> int:
        family = kind.split(":", 1)[0] + ":"  # "embedding:": any encoder's rows
        return self._call(
            forget_derived(self.db, kind, [k.hex() for k in keep], older_than_s, family)
        )

    def _call(self, work: Coroutine[object, object, T]) -> T:
        if threading.get_ident() == self._loop_thread:
            work.close()
            raise RuntimeError("shared vectors are for background threads, not the event loop")
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(self.timeout_s)
        except TimeoutError:
            future.cancel()
            raise
