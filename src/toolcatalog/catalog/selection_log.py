"""SelectionLog: every selector answer recorded by its selection_id without slowing select.

`record()` only appends to an in-memory queue (a deque append, thread-safe, well under a
microsecond); a background task COPYs the queue to tool_selections every FLUSH_INTERVAL_S in
one transaction per batch. While the database is unreachable the queue keeps up to
MAX_PENDING rows (the newest are dropped beyond that, and counted), so an outage costs memory
that is bounded, never a slower select. Feedback on a selection still queued here flushes the
queue first (`ensure_recorded`). Selections are kept as long as telemetry events (pruned
hourly by the same task)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

from toolcatalog import metrics
from toolcatalog.errors import CatalogError
from toolcatalog.store.database import Database
from toolcatalog.store.selections import (
    SelectionRecord,
    delete_selections_before,
    insert_selections,
)

FLUSH_INTERVAL_S = 0.5
BATCH = 5_000
MAX_PENDING = 50_000
CLOSE_TIMEOUT_S = 2.0
PRUNE_EVERY_S = 3600.0

log = logging.getLogger(__name__)


class SelectionLog:
    def __init__(
        self, db: Database, *, retention_days: int = 90, max_pending: int = MAX_PENDING
    ) -> None:
        self._db = db
        self._retention = timedelta(days=retention_days)
        self._pending: deque[SelectionRecord] = deque()
        self._max_pending = max_pending
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def record(self, row: SelectionRecord) -> None:
        """Queue one selection (from any thread); never blocks, never raises."""
        if len(self._pending) >= self._max_pending:
            metrics.SELECTIONS_DROPPED.inc()
            return
        self._pending.append(row)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def is_pending(self, selection_id: uuid.UUID) -> bool:
        return any(r.selection_id == selection_id for r in tuple(self._pending))

    async def flush(self) -> int:
        """Write every queued selection; returns how many. On a database error the batch
        goes back to the front of the queue and the error is raised (StoreUnavailable)."""
        written = 0
        async with self._flushing:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                try:
                    # One COPY is one statement: its own transaction, one round trip (a
                    # transaction around it was three, each a turn of the busy loop).
                    async with self._db.statement("record_selections") as conn:
                        await insert_selections(conn, batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
                metrics.SELECTIONS_RECORDED.inc(len(batch))
        return written

    async def ensure_recorded(self, selection_id: uuid.UUID) -> None:
        """Flush first when `selection_id` is still queued in this process, or may be in the
        batch being written (taken off the queue, not yet committed): the flush waits for
        that batch."""
        if self.is_pending(selection_id) or self._flushing.locked():
            await self.flush()

    def start(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        """Flush in the background every `interval_s` (the runtime starts it when it owns
        its database pool)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(interval_s), name="selection-log")

    async def prune(self, *, now: datetime | None = None) -> int:
        """Retention: delete selections (and their feedback) older than the telemetry's
        retention (TOOLCATALOG_TELEMETRY_RETENTION_DAYS); returns how many."""
        before = (now or datetime.now(UTC)) - self._retention
        async with self._db.transaction("prune_selections") as conn:
            return await delete_selections_before(conn, before)

    async def _run(self, interval_s: float) -> None:
        pruned_at = time.monotonic()
        while True:
            await asyncio.sleep(interval_s)
            try:
                if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    await self.prune()
                await self.flush()
            except CatalogError as exc:
                if not self._failing:
                    log.warning(
                        "selections not recorded yet; kept in memory",
                        extra={"error": exc.detail, "pending": self.pending},
                    )
                self._failing = True
            else:
                self._failing = False

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the background task and write what is queued, within `timeout_s` (a stop
        never waits on an unreachable database for longer)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            try:
                await asyncio.wait_for(self.flush(), timeout_s)
            except (CatalogError, TimeoutError):
                log.warning("selections lost at shutdown", extra={"pending": self.pending})
