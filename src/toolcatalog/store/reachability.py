"""Whether the database server is known to be reachable, and the probe that finds out again.

Once the server is known to be unreachable (a connection refused or lost, or
`_TIMEOUTS_MEAN_DOWN` timeouts in a row), operations fail at once with StoreUnavailable while
one probe per `probe_interval_s` tries for real, so requests never queue behind a dead server;
the first operation that succeeds again runs the `on_recovered` callbacks.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import asyncpg

from toolcatalog import metrics
from toolcatalog.errors import StoreUnavailable

log = logging.getLogger(__name__)

# While the server is down, at most one real attempt per interval; the rest fail at once.
_PROBE_INTERVAL_S = 0.5
# Timeouts in a row, with no success between them, that say the server is down.
_TIMEOUTS_MEAN_DOWN = 3


class Unreachable(StoreUnavailable):
    """Refused without trying, because the server is known to be down."""


class Reachability:
    """The outage state of one Database: down since when, the last real attempt, the timeouts
    in a row; `probe` before an operation, `mark_down` or `mark_up` after it."""

    def __init__(self) -> None:
        self.down_since: float | None = None  # time.monotonic() of the first failure
        self.last_try = 0.0  # time.monotonic() of the last real attempt while down
        self.timeouts = 0  # operations that timed out since the last success
        self.probe_interval_s = _PROBE_INTERVAL_S
        self.last_error: str | None = None
        self.on_recovered: list[Callable[[], None]] = []

    @property
    def available(self) -> bool:
        """False from the first failure that says the server is unreachable until the next
        operation that succeeds."""
        return self.down_since is None

    def probe(self) -> None:
        """Raise Unreachable while down, except once per `probe_interval_s`: that operation
        is the probe and tries for real."""
        if self.down_since is not None:
            now = time.monotonic()
            if now - self.last_try < self.probe_interval_s:
                raise Unreachable(
                    f"the database has been unreachable for {now - self.down_since:.1f} s "
                    f"({self.last_error})"
                )
            self.last_try = now  # this operation is the probe

    def mark_down(self, exc: BaseException) -> None:
        if isinstance(exc, Unreachable):
            return  # refused without trying: nothing new learnt
        self.last_error = f"{exc.__class__.__name__}: {exc}".rstrip(": ")
        if isinstance(exc, TimeoutError | asyncpg.QueryCanceledError | asyncpg.InternalClientError):
            # A timeout alone may be a busy server or a full pool, not a dead one: declaring
            # it down would drop every cache at recovery and add load where there is too much.
            # A silent network gives nothing but timeouts, so several in a row count. So do
            # asyncpg's client-side protocol errors: they come with a server that stops
            # mid-answer, but one alone says too little.
            self.timeouts += 1
            if self.timeouts < _TIMEOUTS_MEAN_DOWN:
                return
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self.last_try = -math.inf  # the next operation tries again at once (a blip?)
            metrics.DB_UP.set(0)
            log.warning(
                "database unreachable; serving cached reads, refusing writes",
                extra={"error": self.last_error},
            )
        else:
            self.last_try = now

    def mark_up(self) -> None:
        self.timeouts = 0
        if self.down_since is None:
            return
        downtime = time.monotonic() - self.down_since
        self.down_since = None
        self.last_error = None
        metrics.DB_UP.set(1)
        metrics.DB_RECONNECTS.inc()
        log.info(
            "database reachable again; invalidating caches",
            extra={"downtime_s": round(downtime, 3)},
        )
        for callback in list(self.on_recovered):
            callback()
