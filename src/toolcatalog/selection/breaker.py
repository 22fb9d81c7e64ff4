"""The LLM tie-break's circuit breaker: after `threshold` failures in a row (timeouts, HTTP or
connection errors) the LLM is skipped for `cooldown_s`, so an endpoint that accepts connections
and never answers costs one timeout per cool-down, not one per tied request. After the cool-down
one request probes it (half-open): an answer closes the breaker, a failure opens it again.
An answer that is refused (prose, a tool not offered) proves the endpoint is up: it counts as a
success here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from toolcatalog import metrics

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def describe(self) -> str:
        """closed | open: why, and when it is probed again | half_open."""
        with self._lock:
            state = self._state()
            if state != "open" or self._opened_at is None:
                return state
            left = self.cooldown_s - (self._clock() - self._opened_at)
            return (
                f"open: {self._failures} failure(s) in a row; the LLM is skipped, "
                f"probed again in {left:.0f} s"
            )

    def acquire(self) -> str | None:
        """None when the LLM may be asked now (the caller must then `record` the outcome),
        else why it is skipped. In half-open state only one caller probes at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half_open" and not self._probing:
                self._probing = True
                return None
            assert self._opened_at is not None
            left = max(self.cooldown_s - (self._clock() - self._opened_at), 0.0)
            return (
                f"LLM skipped: circuit breaker open after {self._failures} failure(s) in a "
                f"row; probed again in {left:.0f} s"
            )

    def release(self) -> None:
        """The caller acquired but got no verdict (it was cancelled): let another probe."""
        with self._lock:
            self._probing = False

    def record(self, failed: bool) -> None:
        with self._lock:
            self._probing = False
            if not failed:
                self._failures = 0
                self._opened_at = None
            else:
                self._failures += 1
                if self._opened_at is not None or self._failures >= self.threshold:
                    self._opened_at = self._clock()
            metrics.LLM_BREAKER_OPEN.set(0 if self._opened_at is None else 1)
