"""Usage analytics over the hourly telemetry rollups: usage per tool, capability or pattern
and time bucket; declared against observed profiles (drift); calls per day per tool with a
linear trend and forecast (capacity). Everything reads tool_telemetry_hourly, never the
events, so a year of history costs the same as a day's events per pattern-hour."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.telemetry import ObservedStats, PatternKey
from toolcatalog.store.telemetry import BucketStats

GroupBy = Literal["tool", "capability", "pattern"]
Interval = Literal["hour", "day", "week", "all"]  # all: one bucket, the whole window
INTERVALS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
MAX_BUCKETS = 2000  # per usage answer: 83 days by hour, 5 years by day
# How far the observed p95 may exceed the declared time before the drift gauge counts it.
SLOW_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: str
    bucket: datetime | None  # the bucket's start; None: the whole window
    calls: int
    success_rate: float
    p50_ms: float
    p95_ms: float

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's --json shape."""
        return {
            "key": self.group, "bucket": self.bucket, "calls": self.calls,
            "success_rate": self.success_rate, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProfileDrift:
    """A pattern's declared estimates against what its events showed. Ratios are observed /
    declared (None when the declaration is an expression of the inputs or zero)."""

    key: PatternKey
    samples: int
    declared_time_ms: float | str
    observed_p50_ms: float
    observed_p95_ms: float
    time_ratio: float | None  # observed p50 / declared
    p95_ratio: float | None  # observed p95 / declared
    success_rate: float
    declared_cost: float | str
    observed_cost: float | None

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's --json shape."""
        return {
            "tool": self.key.tool, "capability": self.key.capability,
            "pattern": self.key.pattern, "samples": self.samples,
            "declared_time_ms": self.declared_time_ms, "observed_p50_ms": self.observed_p50_ms,
            "observed_p95_ms": self.observed_p95_ms, "time_ratio": self.time_ratio,
            "p95_ratio": self.p95_ratio, "success_rate": self.success_rate,
            "declared_cost": self.declared_cost, "observed_cost": self.observed_cost,
        }  # fmt: skip

    @property
    def wrongness(self) -> float:
        """|log(observed / declared)|: 10x too slow and 10x too fast are equally wrong."""
        return abs(math.log(self.time_ratio)) if self.time_ratio else 0.0


@dataclass(frozen=True, slots=True)
class CapacityTrend:
    """Calls per day of one tool over the window (oldest first, days without calls as 0), the
    least-squares slope (calls/day per day) and the line extended `horizon` days ahead."""

    tool: str
    daily_calls: list[int]
    mean_per_day: float
    slope_per_day: float
    forecast_per_day: float
    horizon_days: int

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's --json shape."""
        return {
            "tool": self.tool, "daily_calls": self.daily_calls,
            "mean_per_day": self.mean_per_day, "slope_per_day": self.slope_per_day,
            "forecast_per_day": self.forecast_per_day,
        }  # fmt: skip


def check_window(since: datetime, until: datetime, interval: timedelta | None) -> None:
    problems = []
    if since.tzinfo is None or until.tzinfo is None:
        problems.append(Problem("since", "since and until need a UTC offset, e.g. ...Z"))
    elif until <= since:
        problems.append(Problem("until", f"until ({until}) must be after since ({since})"))
    elif interval is not None and (until - since) / interval > MAX_BUCKETS:
        problems.append(
            Problem(
                "interval",
                f"{(until - since) / interval:.0f} buckets asked for, at most {MAX_BUCKETS}: "
                "use a wider interval or a shorter window",
            )
        )
    if problems:
        raise InvalidDefinition("the analytics window is not valid", problems)


def usage_rows(buckets: Iterable[BucketStats]) -> list[UsageRow]:
    return [
        UsageRow(
            b.group, b.bucket, b.stats.samples, b.stats.success_rate, b.stats.p50_ms,
            b.stats.p95_ms,
        )
        for b in buckets
    ]  # fmt: skip


def _ratio(observed: float, declared: float | str) -> float | None:
    if isinstance(declared, str) or declared <= 0:
        return None
    return observed / declared


def profile_drift(
    snapshot: CatalogSnapshot, observed: dict[PatternKey, ObservedStats], min_samples: int
) -> list[ProfileDrift]:
    """Every pattern of the catalog with at least `min_samples` events, most wrong first
    (patterns declared by an expression, which have no single figure to compare, last)."""
    out = []
    # Only the tools with a pattern of enough events are walked: this runs on the event loop
    # every minute (TelemetryService.maintain), and a walk of every pattern of 100,000 tools
    # held the loop for ~2 s at load 3 (every request waited, a select after a write too).
    named = {k.tool for k, s in observed.items() if s.samples >= min_samples}
    for tool in snapshot.tools:
        if tool.name not in named:
            continue
        for capability in tool.capabilities:
            for pattern in capability.patterns:
                key = PatternKey(tool.name, capability.name, pattern.name)
                stats = observed.get(key)
                if stats is None or stats.samples < min_samples:
                    continue
                declared = pattern.profile.time_estimate_ms
                out.append(
                    ProfileDrift(
                        key=key,
                        samples=stats.samples,
                        declared_time_ms=declared,
                        observed_p50_ms=stats.p50_ms,
                        observed_p95_ms=stats.p95_ms,
                        time_ratio=_ratio(stats.p50_ms, declared),
                        p95_ratio=_ratio(stats.p95_ms, declared),
                        success_rate=stats.success_rate,
                        declared_cost=pattern.profile.cost_estimate,
                        observed_cost=stats.cost_mean,
                    )
                )
    out.sort(key=lambda d: (d.time_ratio is None, -d.wrongness, d.key))
    return out


def capacity_trends(
    daily: Iterable[BucketStats], first_day: datetime, days: int, horizon: int
) -> list[CapacityTrend]:
    """Per tool: its calls per day over `days` days from `first_day`, the trend and forecast,
    busiest forecast first."""
    series: dict[str, list[int]] = {}
    for b in daily:
        if b.bucket is None:
            continue
        index = (b.bucket - first_day) // timedelta(days=1)
        if 0 <= index < days:
            series.setdefault(b.group, [0] * days)[index] += b.stats.samples
    trends = []
    for tool, calls in series.items():
        slope, intercept = _least_squares(calls)
        forecast = max(0.0, intercept + slope * (days - 1 + horizon))
        trends.append(CapacityTrend(tool, calls, sum(calls) / days, slope, forecast, horizon))
    trends.sort(key=lambda t: (-t.forecast_per_day, t.tool))
    return trends


def _least_squares(values: list[int]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (i, values[i])."""
    n = len(values)
    if n < 2:
        return 0.0, float(values[0]) if values else 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def slow_patterns(drift: Iterable[ProfileDrift]) -> tuple[int, float]:
    """How many patterns' observed p95 exceeds SLOW_FACTOR x their declared time, and the
    largest p95 ratio (0.0 when none is comparable)."""
    ratios = [d.p95_ratio for d in drift if d.p95_ratio is not None]
    return sum(r > SLOW_FACTOR for r in ratios), max(ratios, default=0.0)
