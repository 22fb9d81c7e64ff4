"""What health reports about the database: the last known state, refreshed in the background.

A health request never waits on the database for longer than ANSWER_WITHIN_S: it starts a
probe (one at a time, at most one per PROBE_EVERY_S) and answers with the freshest state
known by then. Only a process's first one, with no state to answer with, waits for the first
probe's outcome (at most `health_probe_timeout_s`). A probe that gets no answer within
`health_probe_timeout_s` records the database as unreachable at that moment, without being
cancelled: it may still finish (then its answer is recorded) or fail on the pool's own
timeouts. Before, health awaited a count of the tools, and a hung database (SIGSTOP) made
it take 3 s typically and 8 s at most, long enough for a liveness probe to take every
replica out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from toolcatalog.errors import CatalogError

# How long a health request waits for a probe it started: enough for a healthy database to
# answer a count (~1 ms), far below any liveness probe's timeout.
ANSWER_WITHIN_S = 0.2
# A probe younger than this is the answer; health checks every second cost one query.
PROBE_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """The outcome of the last probe that finished (or timed out)."""

    reachable: bool
    tool_count: int | None
    error: str | None
    checked_at: float  # time.monotonic()


class DatabaseHealth:
    """Probes `count()` (the number of tools) in the background for health answers."""

    def __init__(
        self, count: Callable[[], Awaitable[int]], *, probe_timeout_s: float = 1.0
    ) -> None:
        self._count = count
        self.probe_timeout_s = probe_timeout_s
        self.state: DatabaseState | None = None
        self._probe: asyncio.Task[None] | None = None
        self._recorded = asyncio.Event()  # set once a probe has recorded an outcome

    async def current(self, wait_s: float = ANSWER_WITHIN_S) -> DatabaseState | None:
        """The freshest state known after waiting at most `wait_s` for a new probe. With no
        state known yet (a process's first health request) it waits for the first probe's
        outcome, at most `probe_timeout_s`: there is no earlier answer to give, and a count
        left unknown (None) only because a busy machine took over ANSWER_WITHIN_S to answer
        it would read as a missing catalog to a client checking it. None only if that probe
        has still not recorded anything."""
        state = self.state
        first = state is None
        if state is not None and time.monotonic() - state.checked_at < PROBE_EVERY_S:
            return state
        if self._probe is not None and not self._probe.done() and state is not None:
            return state  # a probe is out (the database is slow): the last state, at once
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._run_probe(), name="health-probe")
        with contextlib.suppress(TimeoutError):
            if first:  # the probe records an outcome within probe_timeout_s, whatever happens
                await asyncio.wait_for(
                    self._recorded.wait(), timeout=self.probe_timeout_s + ANSWER_WITHIN_S
                )
            else:
                await asyncio.wait_for(asyncio.shield(self._probe), timeout=wait_s)
        return self.state

    async def _run_probe(self) -> None:
        started = time.monotonic()
        count = asyncio.ensure_future(self._count())
        done, _ = await asyncio.wait({count}, timeout=self.probe_timeout_s)
        if not done:
            self._record(
                DatabaseState(
                    False,
                    None,
                    f"no answer within {self.probe_timeout_s:g} s "
                    "(TOOLCATALOG_HEALTH_PROBE_TIMEOUT_S)",
                    started,
                )
            )
        try:
            n = await count
        except CatalogError as exc:  # StoreUnavailable, in practice
            self._record(DatabaseState(False, None, exc.detail, started))
        else:
            self._record(DatabaseState(True, n, None, started))

    def _record(self, state: DatabaseState) -> None:
        # A slow probe that finishes late does not overwrite what a newer one found.
        if self.state is None or state.checked_at >= self.state.checked_at:
            self.state = state
        self._recorded.set()

    async def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe
