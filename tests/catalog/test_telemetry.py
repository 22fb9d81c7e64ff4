"""TelemetryService against the real database: each event checked on its own, the good ones
written with their hourly rollups, observed figures per pattern, retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from builders import make_settings, make_tool
from toolcatalog import metrics
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.telemetry import TelemetryService
from toolcatalog.config import Settings
from toolcatalog.model.telemetry import PatternKey
from toolcatalog.runtime import open_runtime
from toolcatalog.store.database import Database

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
KEY = PatternKey("alpha_tool", "process_list", "snapshot")


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tool": "alpha_tool",
        "capability": "process_list",
        "pattern": "snapshot",
        "duration_ms": 120.0,
        "success": True,
        "at": NOW.isoformat(),
    }
    base.update(overrides)
    return base


@pytest.fixture
async def telemetry(service: ToolCatalogService, db: Database, settings: Settings) -> Any:
    await service.import_definitions([make_tool("alpha_tool")])
    return TelemetryService(db, settings, service.state)


async def test_good_events_are_kept_and_bad_ones_rejected_with_index_and_reason(
    telemetry: TelemetryService, conn: Any
) -> None:
    events = [
        event(selection_id="sel_1", cost=2.5, error="timeout", environment="production"),
        event(tool="ghost_tool"),
        event(capability="process_lst"),
        event(pattern="other"),
        event(error="x" * 65),
        event(duration_ms=-1),
        "not an object",
        event(environment="mars"),
        event(at=(NOW + timedelta(hours=1)).isoformat()),
        event(at=(NOW - timedelta(days=91)).isoformat()),
        event(surprise=1),
        event(success=False),
    ]
    report = await telemetry.ingest(events, reporter="agent-1", now=NOW)
    assert report.accepted == 2
    reasons = {r.index: r.reason for r in report.rejected}
    assert sorted(reasons) == list(range(1, 11))
    assert "unknown tool 'ghost_tool'" in reasons[1]
    assert "did you mean process_list" in reasons[2]
    assert "no pattern 'other'" in reasons[3]
    assert reasons[4].startswith("error:")
    assert reasons[5].startswith("duration_ms:")
    assert "JSON object" in reasons[6]
    assert "unknown environment 'mars'" in reasons[7]
    assert "future" in reasons[8]
    assert "retention" in reasons[9]
    assert reasons[10].startswith("surprise:")
    rows = await conn.fetch(
        "SELECT selection_id, cost, error, environment, reporter, success FROM tool_telemetry "
        "ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("sel_1", 2.5, "timeout", "production", "agent-1", True),
        (None, None, None, None, "agent-1", False),
    ]


async def test_rollups_sum_exactly_the_events_written(
    telemetry: TelemetryService, conn: Any
) -> None:
    durations = [float(d) for d in range(10, 1010, 10)]  # 100 events: 10 .. 1000 ms
    batch = [
        event(duration_ms=d, success=i % 10 != 0, cost=1.0 if i % 2 else None)
        for i, d in enumerate(durations)
    ]
    await telemetry.ingest(batch[:50], reporter="a", now=NOW)
    await telemetry.ingest(batch[50:], reporter="a", now=NOW)  # the same hour's row, added to
    hourly = await conn.fetch("SELECT hour, calls, successes FROM tool_telemetry_hourly")
    assert [tuple(r) for r in hourly] == [(datetime(2026, 6, 1, 12, tzinfo=UTC), 100, 90)]
    stats = (await telemetry.observed_stats(since=NOW - timedelta(days=1), until=NOW))[KEY]
    assert (stats.samples, stats.successes, stats.cost_samples) == (100, 90, 50)
    assert stats.success_rate == pytest.approx(0.9)
    assert stats.mean_ms == pytest.approx(505.0)
    assert stats.cost_mean == pytest.approx(1.0)
    # Read from logarithmic buckets: within 10 % of the exact percentiles (505 and 955 ms).
    assert stats.p50_ms == pytest.approx(505.0, rel=0.1)
    assert stats.p95_ms == pytest.approx(955.0, rel=0.1)


async def test_hours_outside_the_window_are_not_counted(telemetry: TelemetryService) -> None:
    await telemetry.ingest(
        [event(at=(NOW - timedelta(days=2)).isoformat()), event()], reporter="a", now=NOW
    )
    recent = await telemetry.observed_stats(since=NOW - timedelta(days=1), until=NOW)
    assert recent[KEY].samples == 1
    everything = await telemetry.observed_stats(since=NOW - timedelta(days=3), until=NOW)
    assert everything[KEY].samples == 2


async def test_prune_deletes_events_past_retention_and_keeps_their_rollups(
    service: ToolCatalogService, db: Database, conn: Any, tmp_path: Any, module_db_url: str
) -> None:
    settings = make_settings(module_db_url, tmp_path, telemetry_retention_days=10)
    await service.import_definitions([make_tool("alpha_tool")])
    telemetry = TelemetryService(db, settings, service.state)
    old = NOW - timedelta(days=9)
    await telemetry.ingest([event(at=old.isoformat()), event()], reporter="a", now=NOW)
    report = await telemetry.prune(now=NOW + timedelta(days=2))
    assert (report.events, report.rollups) == (1, 0)
    assert await conn.fetchval("SELECT count(*) FROM tool_telemetry") == 1
    assert await conn.fetchval("SELECT sum(calls) FROM tool_telemetry_hourly") == 2
    report = await telemetry.prune(now=NOW + timedelta(days=500))
    assert (report.events, report.rollups) == (1, 2)


async def test_the_drift_gauges_count_patterns_over_three_times_their_declared_time(
    telemetry: TelemetryService,
) -> None:
    now = datetime.now(UTC)
    # Declared 50 ms: 30 runs at ~120 ms (2.4x) are not counted, then 30 at 500 ms (10x) are.
    await telemetry.ingest([event(at=now.isoformat())] * 30, reporter="a", now=now)
    assert await telemetry.refresh_drift(now=now) == (0, pytest.approx(2.4, rel=0.1))
    assert metrics.Samples.collect().total("toolcatalog_telemetry_patterns_slow") == 0
    slow = [event(at=now.isoformat(), duration_ms=500.0)] * 30
    await telemetry.ingest(slow, reporter="a", now=now)
    count, worst = await telemetry.refresh_drift(now=now)
    assert (count, worst) == (1, pytest.approx(10, rel=0.1))
    assert metrics.Samples.collect().total("toolcatalog_telemetry_patterns_slow") == 1


async def test_concurrent_batches_over_the_same_hours_add_up_without_deadlock(
    fresh_db_url: str, tmp_path: Any
) -> None:
    settings = make_settings(fresh_db_url, tmp_path)
    async with open_runtime(settings, listen=False) as runtime:
        tools = [make_tool("alpha_tool"), make_tool("beta_tool"), make_tool("gamma_tool")]
        await runtime.catalog.import_definitions(tools)
        # Every batch touches all three patterns' rollup rows, in a different order.
        names = ["alpha_tool", "beta_tool", "gamma_tool"]
        batches = [
            [event(tool=names[(i + k) % 3], duration_ms=float(10 + k)) for k in range(30)]
            for i in range(12)
        ]
        reports = await asyncio.gather(
            *(runtime.telemetry.ingest(b, reporter="a", now=NOW) for b in batches)
        )
        assert [r.accepted for r in reports] == [30] * 12
        stats = await runtime.telemetry.observed_stats(since=NOW - timedelta(hours=1), until=NOW)
        assert {k.tool: s.samples for k, s in stats.items()} == dict.fromkeys(names, 120)


async def test_early_in_an_hour_the_drift_gauge_still_sees_the_previous_hour(
    telemetry: TelemetryService,
) -> None:
    slow = [event(duration_ms=500.0)] * 30  # at 12:30, 10x the declared 50 ms
    await telemetry.ingest(slow, reporter="a", now=NOW)
    five_past = NOW.replace(hour=13, minute=5)
    assert (await telemetry.refresh_drift(now=five_past))[0] == 1
