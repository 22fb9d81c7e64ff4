"""Outcome telemetry: accepting the events agents report (each checked on its own against
the catalog, the good ones written in one transaction with their hourly rollups), reading
what was observed per pattern, and retention.

`observed_stats()` is the read API calibration uses: its shape (PatternKey -> ObservedStats)
stays as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from toolcatalog import metrics
from toolcatalog.catalog import analytics
from toolcatalog.catalog.analytics import (
    CapacityTrend,
    GroupBy,
    Interval,
    ProfileDrift,
    UsageRow,
)
from toolcatalog.catalog.state import CatalogState
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.config import Settings
from toolcatalog.errors import CatalogError
from toolcatalog.model.names import did_you_mean
from toolcatalog.model.profile import Environment
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.telemetry import ObservedStats, PatternKey, TelemetryEvent
from toolcatalog.model.tool import Tool
from toolcatalog.store import telemetry as telemetry_store
from toolcatalog.store.database import Database
from toolcatalog.store.telemetry import TelemetryWrite, hour_of

log = logging.getLogger(__name__)

MAX_EVENTS = 5000  # per request: ~1 MiB of JSON, the default body limit
# Clocks disagree: an event up to this far in the future is taken as now-ish, not refused.
FUTURE_SLACK = timedelta(minutes=5)
_PRUNE_BATCH = 50_000
DRIFT_EVERY_S = 60.0
PRUNE_EVERY_S = 3600.0
# Validating a batch costs ~4 us an event; past this many the work leaves the event loop.
_THREAD_OVER = 200
# Unknown tools named with their closest known names per batch: each hint compares up to
# 2,000 names (model/names.py), so a batch of 5,000 made-up names would take ~25 s.
HINTS_MAX = 20


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    accepted: int
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PruneReport:
    events: int
    rollups: int


@dataclass(frozen=True, slots=True)
class _Labels:
    """The names an event may carry, for one catalog generation: each event's tool is looked
    up in the catalog as it is (a table of every tool's capabilities and patterns, made per
    generation, held the event loop ~1.6 s at 20,000 generated tools after each write)."""

    generation: int
    tool_of: Callable[[str], Tool | None]
    names: Collection[str]  # every tool's name, for "did you mean"
    environments: frozenset[str]


def labels_of(version: CatalogVersion) -> _Labels:
    """The labels of a catalog version, read from its entries (no walk of its tools)."""
    entries = version.entries

    def tool_of(name: str) -> Tool | None:
        entry = entries.get(name)
        return entry.tool if entry is not None else None

    return _Labels(version.generation, tool_of, version.names, _environments(version.snapshot))


def _environments(snapshot: CatalogSnapshot) -> frozenset[str]:
    environments = {e.value for e in Environment}
    if snapshot.environments is not None:
        environments |= set(snapshot.environments.environments)
    return frozenset(environments)


def pattern_problem(
    tool: str, capability: str, pattern: str, labels: _Labels, *, hint: bool = True
) -> str | None:
    """Why (tool, capability, pattern) names no pattern of the catalog, or None. Telemetry
    events and selection feedback name patterns alike. `hint`: name the closest known tools
    (~5 ms at 100,000 tools: a batch names them for its first HINTS_MAX unknown tools)."""
    found = labels.tool_of(tool)
    if found is None:
        return f"unknown tool {tool!r}{did_you_mean(tool, labels.names) if hint else ''}"
    capabilities = {c.name: c for c in found.capabilities}
    chosen = capabilities.get(capability)
    if chosen is None:
        near = did_you_mean(capability, capabilities)
        return f"tool {tool!r} has no capability {capability!r}{near}"
    patterns = [p.name for p in chosen.patterns]
    if pattern not in patterns:
        near = did_you_mean(pattern, patterns)
        return f"capability {tool}/{capability} has no pattern {pattern!r}{near}"
    return None


def _label_problem(event: TelemetryEvent, labels: _Labels, hint: bool) -> str | None:
    problem = pattern_problem(event.tool, event.capability, event.pattern, labels, hint=hint)
    if problem is not None:
        return problem
    if event.environment is not None and event.environment not in labels.environments:
        near = did_you_mean(event.environment, labels.environments)
        return f"unknown environment {event.environment!r}{near}"
    return None


_EVENTS = TypeAdapter(list[TelemetryEvent])


def _parse(events: Sequence[Any]) -> tuple[list[TelemetryEvent | None], dict[int, str]]:
    """The events validated in one pass (one pydantic call for the whole batch is cheaper than
    one per event); a bad event becomes None, with the reason of its first error."""
    problems = {
        i: "an event must be a JSON object" for i, e in enumerate(events) if not isinstance(e, dict)
    }
    items = [e if isinstance(e, dict) else {} for e in events]
    try:
        return list(_EVENTS.validate_python(items)), problems
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            index, *where = error["loc"]
            if isinstance(index, int) and index not in problems:
                path = ".".join(str(p) for p in where)
                problems[index] = f"{path}: {error['msg']}" if path else error["msg"]
    return [
        None if i in problems else TelemetryEvent.model_validate(e) for i, e in enumerate(items)
    ], problems


def check_events(
    events: Sequence[Any], labels: _Labels, now: datetime, oldest: datetime, reporter: str
) -> tuple[list[TelemetryWrite], list[Rejected]]:
    """Each event validated on its own: the rows to write and the rejected (index, reason)."""
    rows: list[TelemetryWrite] = []
    rejected: list[Rejected] = []
    parsed, problems = _parse(events)
    hints = HINTS_MAX
    for i, event in enumerate(parsed):
        if event is None:
            rejected.append(Rejected(i, problems.get(i, "an event must be a JSON object")))
            continue
        if (problem := _label_problem(event, labels, hints > 0)) is not None:
            rejected.append(Rejected(i, problem))
            hints -= problem.startswith("unknown tool")
            continue
        at = event.at or now
        try:  # a time without an offset is UTC, as everywhere in the API
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        except OverflowError:
            rejected.append(Rejected(i, "at: outside years 1..9999 in UTC"))
            continue
        if at > now + FUTURE_SLACK:
            rejected.append(Rejected(i, f"at: {at.isoformat()} is in the future"))
            continue
        if at < oldest:
            rejected.append(Rejected(i, f"at: {at.isoformat()} is older than the retention window"))
            continue
        rows.append(
            TelemetryWrite(
                observed_at=at,
                tool_name=event.tool,
                capability=event.capability,
                pattern=event.pattern,
                duration_ms=event.duration_ms,
                cost=event.cost,
                success=event.success,
                selection_id=event.selection_id,
                error=event.error,
                environment=event.environment,
                reporter=reporter,
            )
        )
    return rows, rejected


class TelemetryService:
    """Writes and reads outcome telemetry; owns its transactions."""

    def __init__(self, db: Database, settings: Settings, state: CatalogState) -> None:
        self._db = db
        self._settings = settings
        self._state = state
        self._labels: _Labels | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self._settings.telemetry_retention_days)

    async def current_labels(self) -> _Labels:
        """The catalog's tool/capability/pattern and environment names, per generation."""
        return await self._current_labels()

    async def _current_labels(self) -> _Labels:
        version = await self._state.version()
        if self._labels is None or self._labels.generation != version.generation:
            self._labels = labels_of(version)
        return self._labels

    async def ingest(
        self, events: Sequence[Any], *, reporter: str, now: datetime | None = None
    ) -> IngestReport:
        """Validate each event on its own and write the good ones (with their rollups) in one
        transaction. Never raises for a bad event: it is rejected with its index and reason.
        Raises StoreUnavailable if the database is unreachable (then nothing is written)."""
        now = now or datetime.now(UTC)
        labels = await self._current_labels()
        oldest = now - self.retention
        if len(events) > _THREAD_OVER:
            rows, rejected = await asyncio.to_thread(
                check_events, events, labels, now, oldest, reporter
            )
        else:
            rows, rejected = check_events(events, labels, now, oldest, reporter)
        if rows:
            async with self._db.transaction("telemetry_ingest") as conn:
                await telemetry_store.insert_telemetry(conn, rows)
        metrics.TELEMETRY_EVENTS.labels("accepted").inc(len(rows))
        metrics.TELEMETRY_EVENTS.labels("rejected").inc(len(rejected))
        return IngestReport(len(rows), rejected)

    async def observed_stats(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[PatternKey, ObservedStats]:
        """What the events showed per pattern over the hours [since, until) (default: the
        retention window up to now), from the hourly rollups: one indexed read, no event scan.
        Patterns without events are absent. Raises StoreUnavailable."""
        until = until or datetime.now(UTC) + timedelta(hours=1)
        since = since or until - self.retention - timedelta(hours=1)
        async with self._db.connection("telemetry_stats") as conn:
            return await telemetry_store.fetch_pattern_stats(conn, since, until)

    async def prune(self, *, now: datetime | None = None) -> PruneReport:
        """Delete events older than the retention and rollups older than theirs, in batches
        (each its own transaction, so a large backlog never holds one long lock)."""
        now = now or datetime.now(UTC)
        cutoff = now - self.retention
        events = 0
        while True:
            async with self._db.transaction("telemetry_prune") as conn:
                deleted = await telemetry_store.delete_telemetry_before(conn, cutoff, _PRUNE_BATCH)
            events += deleted
            if deleted < _PRUNE_BATCH:
                break
        rollup_cutoff = now - timedelta(days=self._settings.telemetry_rollup_retention_days)
        async with self._db.transaction("telemetry_prune") as conn:
            rollups = await telemetry_store.delete_hourly_before(conn, rollup_cutoff)
        if events or rollups:
            log.info("pruned telemetry", extra={"events": events, "rollups": rollups})
        return PruneReport(events, rollups)

    async def usage(
        self, by: GroupBy, since: datetime, until: datetime, interval: Interval
    ) -> list[UsageRow]:
        """Calls, success rate and p50/p95 per `by` and per `interval` bucket (hour, day,
        week; all: the whole window) of the hours [since, until). Raises InvalidDefinition
        for a window that is empty or would have over MAX_BUCKETS buckets."""
        width = analytics.INTERVALS.get(interval)
        analytics.check_window(since, until, width)
        since = hour_of(since)  # the hour holding `since` counts: its events may be after it
        async with self._db.connection("telemetry_usage") as conn:
            rows = await telemetry_store.fetch_bucket_stats(conn, by, since, until, width)
        return analytics.usage_rows(rows)

    async def profiles(
        self, since: datetime, until: datetime, *, min_samples: int | None = None
    ) -> list[ProfileDrift]:
        """Declared against observed, per pattern with enough events, most wrong first."""
        analytics.check_window(since, until, None)
        observed = await self.observed_stats(since=hour_of(since), until=until)
        snapshot = await self._state.snapshot()
        least = min_samples if min_samples is not None else self._settings.telemetry_min_samples
        return analytics.profile_drift(snapshot, observed, least)

    async def capacity(
        self, *, days: int, horizon: int, now: datetime | None = None
    ) -> list[CapacityTrend]:
        """Calls per day per tool over the last `days` whole days, trend and forecast."""
        today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
        first = today - timedelta(days=days)
        async with self._db.connection("telemetry_capacity") as conn:
            daily = await telemetry_store.fetch_bucket_stats(
                conn, "tool", first, today, timedelta(days=1)
            )
        return analytics.capacity_trends(daily, first, days, horizon)

    async def refresh_drift(self, *, now: datetime | None = None) -> tuple[int, float]:
        """Set the drift gauges from the last hour's rollups (the previous hour and the
        current one: always 60 to 120 minutes of events, so the gauge does not drop to 0 at
        the top of each hour): patterns whose observed p95 is over 3x the declared time, and
        the worst ratio. Returns both."""
        now = now or datetime.now(UTC)
        drift = await self.profiles(now - timedelta(hours=1), now + timedelta(hours=1))
        slow, worst = analytics.slow_patterns(drift)
        metrics.TELEMETRY_PATTERNS_SLOW.set(slow)
        metrics.TELEMETRY_WORST_P95_RATIO.set(worst)
        return slow, worst

    async def maintain(self) -> None:
        """Until cancelled: the drift gauges every minute, retention every hour. A failure
        (database away) is logged and retried at the next turn, never raised."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while True:
            # First turn a minute after start: start-up is busy enough (embeddings, snapshot).
            await asyncio.sleep(DRIFT_EVERY_S)
            try:
                await self.refresh_drift()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY_S
                    await self.prune()
            except CatalogError as exc:
                log.warning("telemetry maintenance failed", extra={"error": exc.detail})
            except Exception:
                log.exception("telemetry maintenance failed")

    def start(self) -> None:
        """Run `maintain()` in the background (serve only; one task per process)."""
        if self._task is None:
            self._task = asyncio.create_task(self.maintain(), name="telemetry-maintenance")

    async def close(self) -> None:
        """Stop the background task at once (it holds no state worth finishing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
