"""/api/v1/analytics: usage, declared against observed profiles, and capacity, all read from
the hourly telemetry rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.query_params import refuse_unknown_query
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import READ_ERRORS, Timestamp, problems
from toolcatalog.catalog.analytics import GroupBy, Interval

router = APIRouter(
    prefix="/api/v1/analytics",
    tags=["analytics"],
    route_class=ORJSONRoute,
    dependencies=[Depends(refuse_unknown_query)],
)

Since = Annotated[Timestamp | None, Query(description="Window start (default: until - 7 days).")]
Until = Annotated[Timestamp | None, Query(description="Window end, exclusive (default: now).")]


def _window(since: datetime | None, until: datetime | None, days: int) -> tuple[datetime, datetime]:
    end = until or datetime.now(UTC)
    return since or end - timedelta(days=days), end


class UsageBucket(BaseModel):
    key: str = Field(description="The tool, capability or tool/capability/pattern.")
    bucket: datetime | None = Field(description="The bucket's start; null: the whole window.")
    calls: int
    success_rate: float
    p50_ms: float
    p95_ms: float


class Usage(BaseModel):
    by: GroupBy
    interval: Interval
    since: datetime
    until: datetime
    buckets: list[UsageBucket]


@router.get(
    "/usage",
    summary="Calls, success rate and duration percentiles per tool, capability or pattern",
    description="From the hourly rollups: hours whose start lies in [since, until). Buckets "
    "are aligned on UTC midnight (weeks on Mondays); `interval=all`: one bucket.",
    response_model=Usage,
    responses=problems(*READ_ERRORS),
)
async def usage(
    runtime: RuntimeDep,
    _: ReaderDep,
    by: GroupBy = "tool",
    since: Since = None,
    until: Until = None,
    interval: Interval = "day",
) -> Usage:
    start, end = _window(since, until, 7)
    rows = await runtime.telemetry.usage(by, start, end, interval)
    return Usage(
        by=by,
        interval=interval,
        since=start,
        until=end,
        buckets=[UsageBucket(**r.to_json()) for r in rows],
    )


class PatternProfile(BaseModel):
    tool: str
    capability: str
    pattern: str
    samples: int
    declared_time_ms: float | str = Field(description="A number or an expression of inputs.")
    observed_p50_ms: float
    observed_p95_ms: float
    time_ratio: float | None = Field(description="observed p50 / declared; null: no figure.")
    p95_ratio: float | None = Field(description="observed p95 / declared.")
    success_rate: float
    declared_cost: float | str
    observed_cost: float | None


class Profiles(BaseModel):
    since: datetime
    until: datetime
    min_samples: int
    patterns: list[PatternProfile] = Field(description="Most wrong first: |log(time_ratio)|.")


@router.get(
    "/profiles",
    summary="Declared against observed profiles, most wrong first",
    description="Every pattern with at least `min_samples` events in the window (default "
    "TOOLCATALOG_TELEMETRY_MIN_SAMPLES). Patterns declared by an expression come last.",
    response_model=Profiles,
    responses=problems(*READ_ERRORS),
)
async def profiles(
    runtime: RuntimeDep,
    _: ReaderDep,
    since: Since = None,
    until: Until = None,
    min_samples: Annotated[int | None, Query(ge=1, le=1_000_000_000)] = None,
) -> Profiles:
    start, end = _window(since, until, 30)
    drift = await runtime.telemetry.profiles(start, end, min_samples=min_samples)
    return Profiles(
        since=start,
        until=end,
        min_samples=min_samples or runtime.settings.telemetry_min_samples,
        patterns=[PatternProfile(**d.to_json()) for d in drift],
    )


class ToolCapacity(BaseModel):
    tool: str
    daily_calls: list[int] = Field(description="Calls per UTC day, oldest first.")
    mean_per_day: float
    slope_per_day: float = Field(description="Least-squares trend: calls/day gained per day.")
    forecast_per_day: float = Field(description="The trend extended `horizon` days ahead.")


class Capacity(BaseModel):
    days: int
    horizon: int
    first_day: datetime
    tools: list[ToolCapacity] = Field(description="Busiest forecast first.")


@router.get(
    "/capacity",
    summary="Calls per day per tool, with a linear trend and forecast",
    response_model=Capacity,
    responses=problems(*READ_ERRORS),
)
async def capacity(
    runtime: RuntimeDep,
    _: ReaderDep,
    days: Annotated[int, Query(ge=2, le=400, description="Whole UTC days before today.")] = 30,
    horizon: Annotated[int, Query(ge=1, le=365, description="Days ahead to forecast.")] = 7,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Tools shown.")] = 50,
) -> Capacity:
    trends = await runtime.telemetry.capacity(days=days, horizon=horizon)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Capacity(
        days=days,
        horizon=horizon,
        first_day=today - timedelta(days=days),
        tools=[ToolCapacity(**t.to_json()) for t in trends[:limit]],
    )
