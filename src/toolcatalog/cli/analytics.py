"""`toolcatalog analytics usage|profiles|capacity`: what the reported outcomes show, read
from the hourly telemetry rollups, as tables or (`--json`) the API's shapes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from toolcatalog.catalog.analytics import CapacityTrend, GroupBy, Interval, ProfileDrift, UsageRow
from toolcatalog.cli import output
from toolcatalog.cli.output import JsonFlag
from toolcatalog.cli.running import cli_settings, command_runtime

analytics_app = typer.Typer(
    help="Usage, declared vs observed profiles and capacity, from reported telemetry.",
    no_args_is_help=True,
)

SinceOption = Annotated[
    datetime | None,
    typer.Option("--since", help="Window start, ISO 8601 (UTC unless an offset is given)."),
]
UntilOption = Annotated[
    datetime | None, typer.Option("--until", help="Window end, exclusive (default: now).")
]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window(since: datetime | None, until: datetime | None, days: int) -> tuple[datetime, datetime]:
    end = _utc(until) or datetime.now(UTC)
    return _utc(since) or end - timedelta(days=days), end


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


@analytics_app.command("usage")
def usage_command(
    by: Annotated[GroupBy, typer.Option("--by", help="tool, capability or pattern.")] = "tool",
    since: SinceOption = None,
    until: UntilOption = None,
    interval: Annotated[
        Interval, typer.Option("--interval", help="hour, day, week or all (one bucket).")
    ] = "day",
    as_json: JsonFlag = False,
) -> None:
    """Calls, success rate and p50/p95 duration per tool, capability or pattern and bucket."""
    start, end = _window(since, until, 7)

    async def go() -> list[UsageRow]:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.telemetry.usage(by, start, end, interval)

    rows = asyncio.run(go())
    if as_json:
        buckets = [r.to_json() for r in rows]
        output.print_json(
            {"by": by, "interval": interval, "since": start, "until": end, "buckets": buckets}
        )
        return
    output.table(
        f"usage by {by}, {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC",
        ["bucket", by, "calls", "success", "p50 ms", "p95 ms"],
        [
            [
                "all" if r.bucket is None else f"{r.bucket:%Y-%m-%d %H:%M}", r.group,
                f"{r.calls:,}", f"{r.success_rate:.1%}", _ms(r.p50_ms), _ms(r.p95_ms),
            ]
            for r in rows
        ],
    )  # fmt: skip


@analytics_app.command("profiles")
def profiles_command(
    since: SinceOption = None,
    until: UntilOption = None,
    min_samples: Annotated[
        int | None,
        typer.Option("--min-samples", min=1, help="Default TOOLCATALOG_TELEMETRY_MIN_SAMPLES."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Declared against observed time, success and cost per pattern, most wrong first."""
    start, end = _window(since, until, 30)

    async def go() -> tuple[list[ProfileDrift], int]:
        async with command_runtime(cli_settings()) as runtime:
            drift = await runtime.telemetry.profiles(start, end, min_samples=min_samples)
            return drift, min_samples or runtime.settings.telemetry_min_samples

    drift, least = asyncio.run(go())
    if as_json:
        patterns = [d.to_json() for d in drift]
        output.print_json(
            {"since": start, "until": end, "min_samples": least, "patterns": patterns}
        )
        return
    output.table(
        f"declared vs observed, patterns with >= {least} events",
        ["tool/capability/pattern", "events", "declared ms", "p50 ms", "p95 ms", "p50/declared",
         "success", "cost declared", "cost observed"],
        [_profile_row(d) for d in drift],
    )  # fmt: skip


def _profile_row(d: ProfileDrift) -> list[Any]:
    return [
        "/".join(d.key), f"{d.samples:,}", d.declared_time_ms, _ms(d.observed_p50_ms),
        _ms(d.observed_p95_ms), _ratio(d.time_ratio), f"{d.success_rate:.1%}",
        d.declared_cost, _ms(d.observed_cost),
    ]  # fmt: skip


@analytics_app.command("capacity")
def capacity_command(
    days: Annotated[int, typer.Option("--days", min=2, max=400, help="Days of history.")] = 30,
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, max=365, help="Days ahead to forecast.")
    ] = 7,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Tools shown.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Calls per day per tool, the linear trend and the forecast, busiest first."""

    async def go() -> list[CapacityTrend]:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.telemetry.capacity(days=days, horizon=horizon)

    trends = asyncio.run(go())[:limit]
    if as_json:
        tools = [t.to_json() for t in trends]
        output.print_json({"days": days, "horizon": horizon, "tools": tools})
        return
    output.table(
        f"calls per day, last {days} days, forecast {horizon} days ahead",
        ["tool", "mean/day", "last day", "trend/day", f"forecast (+{horizon}d)"],
        [
            [t.tool, f"{t.mean_per_day:,.1f}", f"{t.daily_calls[-1]:,}",
             f"{t.slope_per_day:+,.2f}", f"{t.forecast_per_day:,.0f}"]
            for t in trends
        ],
    )  # fmt: skip
