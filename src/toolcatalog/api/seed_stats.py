"""The seed's performance stats (`GET .../performance/stats`), kept fresh beside the
requests while a client polls them.

Collecting the figures reads every metric sample (~1 ms on a quiet machine, 3-8 ms on a
busy one): computed on the request, the seed's monitor poll (5 % of its load test's mix)
was its slowest answer. While stats were asked for within the last POLLED_S, the answer is
made again every REFRESH_S on the event loop, between requests, so a poll reads bytes at
most MAX_AGE_S old, which the middleware answers without FastAPI (`answer_if_fresh`). The
first poll after a quiet spell makes its own answer. Nothing runs while nobody polls, and
the timer is cancelled when the app stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from toolcatalog.api.routes.ops import performance_figures
from toolcatalog.runtime import Runtime

MAX_AGE_S = 1.0
REFRESH_S = 0.5
POLLED_S = 30.0
log = logging.getLogger(__name__)


class SeedStats:
    def __init__(self) -> None:
        self.body: bytes | None = None
        self.made_at = 0.0
        self.asked_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @staticmethod
    def of_state(state: Any) -> SeedStats:
        stats: SeedStats | None = getattr(state, "seed_stats", None)
        if stats is None:
            stats = state.seed_stats = SeedStats()
        return stats

    def answer_if_fresh(self) -> bytes | None:
        """The kept answer if it is at most MAX_AGE_S old (the poll is noted either way)."""
        now = time.monotonic()
        self.asked_at = now
        if self.body is not None and now - self.made_at < MAX_AGE_S:
            return self.body
        return None

    def answer(self, runtime: Runtime) -> bytes:
        """The answer, made now unless a fresh one is kept; keeps it fresh while polled."""
        body = self.answer_if_fresh()
        if body is None:
            body = self._make(runtime)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(REFRESH_S, self._refresh, runtime, loop)
        return body

    def refreshing(self) -> bool:
        return self._timer is not None

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _refresh(self, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if time.monotonic() - self.asked_at > POLLED_S:
            return  # nobody polls: the next poll makes its own answer
        try:
            self._make(runtime)
        except Exception:
            log.exception("making the seed's performance stats failed")
            return
        self._timer = loop.call_later(REFRESH_S, self._refresh, runtime, loop)

    def _make(self, runtime: Runtime) -> bytes:
        figures = performance_figures(runtime)
        settings = runtime.settings
        pool = {
            "min_connections": settings.pool_min_size,
            "max_connections": settings.pool_max_size,
            "status": "healthy" if figures["database"]["available"] else "unhealthy",
        }
        self.body = orjson.dumps(
            {
                "status": "success",
                "timestamp": datetime.now(UTC).isoformat(),
                "performance": {"connection_pool": pool, **figures},
            }
        )
        self.made_at = time.monotonic()
        return self.body
