"""End to end: a real Prometheus scrapes a real `toolcatalog serve` every second with our rules
loaded (alerts waiting 2 s instead of minutes). One timeline, run once for the module:

  idle       only scrapes and health probes           -> ToolcatalogNoTraffic fires
  traffic    reads, a 404, reloads, a notice from the CLI -> NoTraffic resolves, no P1/P2
  locked     a row lock makes a reload fail (409 busy) -> ToolcatalogReloadFailures
  outage     the database connection is cut (proxy)   -> AllReplicasDegraded, DatabaseErrors,
                                                         ListenerDisconnected; health degraded
  recovered  the connection is back, more traffic     -> the data checks evaluate at this moment
  stopped    the service is stopped                   -> ToolcatalogDown

The tests then read what happened: which alerts fired, and (evaluated at the `recovered`
moment) whether every recording rule and every dashboard query parses and returns data.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from monitoring_files import (
    ExportedMetric,
    dashboard_queries,
    load_dashboard,
    load_rules,
    metric_names,
    parse_label_values,
    recording_rules,
    substitute,
    variable_queries,
)
from prometheus_install import PrometheusTools
from prometheus_stack import PrometheusAPI, report_line
from prometheus_timeline import PROVOKED_IN_OUTAGE, SELECT_ROUTE, Run, Timeline, run_timeline

from toolcatalog.catalog.keys import Role
from toolcatalog.config import Settings
from toolcatalog.runtime import open_runtime

pytestmark = pytest.mark.e2e

# Metrics that may have no data in this run, and why. Everything else must.
_NO_SELECTION = "no selection traffic: the service does not serve POST /api/v1/select yet"
MAY_BE_EMPTY = {
    "toolcatalog_selection_duration_seconds": _NO_SELECTION,
    "toolcatalog_selection_decisions_total": _NO_SELECTION,
    "toolcatalog_selection_tie_breaks_total": (
        "ties reach the LLM only with TOOLCATALOG_LLM_URL set, and its outcome series exist "
        "only once counted (metrics.py could pre-set them to 0)"
    ),
}
# What must stay silent while the service is healthy (latency and cache alerts depend on the
# machine's load and the cold cache, so they are left to the promtool tests).
SILENT_WHEN_HEALTHY = PROVOKED_IN_OUTAGE | {
    "ToolcatalogDown",
    "ToolcatalogReloadFailures",
    "ToolcatalogHighErrorRatio",
}


# ------------------------------------------------------------------ fixtures


def _with_database(url: str, name: str) -> str:
    return re.sub(r"(postgres(?:ql)?://[^/]*/)([^?]*)", rf"\g<1>{name}", url, count=1)


@pytest.fixture(scope="module")
async def e2e_database(
    pg_server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """(URL, admin API key) of a migrated database of its own, committed to for real."""
    name = f"tc_prom_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        url = _with_database(pg_server_url, name)
        settings = Settings.model_validate(
            {"database_url": url, "home": tmp_path_factory.mktemp("keys"), "pool_min_size": 1}
        )
        async with open_runtime(settings, listen=False, migrate=False) as runtime:
            created = await runtime.keys.create("prometheus_e2e", Role.admin)
        yield url, created.secret
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
def timeline(
    prometheus_tools: PrometheusTools,
    e2e_database: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Timeline, PrometheusAPI]]:
    url, key = e2e_database
    run = Run(prometheus_tools, url, key, tmp_path_factory.mktemp("prometheus-e2e"))
    started = time.monotonic()
    try:
        timeline = Timeline(instance=f"127.0.0.1:{run.port}", selection_served=False)
        try:
            run_timeline(run, timeline)
        except Exception as exc:
            raise AssertionError(f"{exc}\n{run.diagnosis()}\n{run.logs()}") from exc
        timeline.seconds["timeline"] = time.monotonic() - started
        figures = ", ".join(f"{k} {v:.1f} s" for k, v in timeline.seconds.items())
        fired = ", ".join(f"{k} {v:.1f} s" for k, v in timeline.fired_in_s.items())
        report_line(request.config, f"\nPrometheus e2e: {figures}; fired after: {fired}")
        yield timeline, run.prometheus
    finally:
        run.close()


# ------------------------------------------------------------------ alerts


def test_no_traffic_fires_on_an_idle_service_and_resolves_with_traffic(
    timeline: tuple[Timeline, PrometheusAPI],
) -> None:
    events, _ = timeline
    assert "ToolcatalogNoTraffic" in events.firing["idle"]
    assert "ToolcatalogNoTraffic" not in events.firing["healthy"]


def test_a_healthy_service_raises_no_outage_alert(timeline: tuple[Timeline, PrometheusAPI]) -> None:
    events, _ = timeline
    assert events.reload_status["healthy"] == 200
    assert events.firing["healthy"] & SILENT_WHEN_HEALTHY == set()


def test_a_reload_refused_on_a_locked_row_fires_reload_failures(
    timeline: tuple[Timeline, PrometheusAPI],
) -> None:
    events, _ = timeline
    # Refused as busy after TOOLCATALOG_DB_LOCK_TIMEOUT_S (a lock wait is not an outage),
    # and still a failed reload.
    assert events.reload_status["locked"] == 409
    assert "ToolcatalogReloadFailures" in events.fired_in_s


def test_losing_the_database_degrades_and_fires_the_database_alerts(
    timeline: tuple[Timeline, PrometheusAPI],
) -> None:
    events, _ = timeline
    assert events.health_in_outage.get("status") == "degraded", events.health_in_outage
    assert events.health_in_outage.get("database") == "unreachable"
    assert events.firing["outage"] >= PROVOKED_IN_OUTAGE
    assert "ToolcatalogDown" not in events.firing["outage"]


def test_the_database_alerts_resolve_once_it_is_back(
    timeline: tuple[Timeline, PrometheusAPI],
) -> None:
    events, _ = timeline
    # DatabaseErrors looks back 5 minutes, so it keeps firing; the state alerts do not.
    assert (
        events.firing["recovered"]
        & {
            "ToolcatalogAllReplicasDegraded",
            "ToolcatalogListenerDisconnected",
            "ToolcatalogDown",
        }
        == set()
    )


def test_stopping_the_service_fires_service_down(timeline: tuple[Timeline, PrometheusAPI]) -> None:
    events, _ = timeline
    assert "ToolcatalogDown" in events.firing["stopped"]
    # The `up == 0` arm of the rule, for this replica (not the `absent()` one).
    assert [labels.get("instance") for labels in events.down_labels] == [events.instance]


def test_every_rule_evaluates_without_error(timeline: tuple[Timeline, PrometheusAPI]) -> None:
    _, api = timeline
    health = api.rule_health()
    assert sorted(health) == sorted(rule.get("record") or rule["alert"] for rule in load_rules())
    assert {name: h for name, h in health.items() if h != "ok"} == {}


# ------------------------------------------------------------------ data


def _assert_returns_data(events: Timeline, api: PrometheusAPI, expr: str, where: str) -> None:
    """`expr` parses and, at the moment of the check, returns at least one finite value,
    unless a metric it reads had nothing to report in this run (MAY_BE_EMPTY)."""
    empty = {
        metric.name
        for name in metric_names(expr)
        if (metric := _exported(events, name)) is not None and not metric.has_data
    }
    excused = {name: MAY_BE_EMPTY[name] for name in empty if name in MAY_BE_EMPTY}
    if events.selection_served:
        excused = {n: r for n, r in excused.items() if r != _NO_SELECTION}
    result = api.query(expr, at=events.checked_at)  # raises if it does not parse
    values = [float(sample["value"][1]) for sample in result]
    if any(math.isfinite(v) for v in values):
        return
    if empty and set(empty) == set(excused):
        pytest.skip(f"{where}: {'; '.join(sorted(set(excused.values())))}")
    hint = ""
    if any(name.startswith("toolcatalog_selection_") for name in empty):
        hint = (
            f"; {SELECT_ROUTE} answered {events.select_statuses} but nothing was recorded: "
            "the selector must observe toolcatalog_selection_duration_seconds and count "
            "toolcatalog_selection_decisions_total"
        )
    raise AssertionError(
        f"{where} returned {values or 'nothing'} for {expr}"
        + (f" (no data for {sorted(empty)}{hint})" if empty else "")
    )


def _exported(events: Timeline, series: str) -> ExportedMetric | None:
    for metric in events.exported.values():
        if series in metric.series_names():
            return metric
    return None


@pytest.mark.parametrize("record", [rule["record"] for rule in recording_rules()])
def test_a_recording_rule_returns_data(
    timeline: tuple[Timeline, PrometheusAPI], record: str
) -> None:
    events, api = timeline
    expr = next(rule["expr"] for rule in recording_rules() if rule["record"] == record)
    # The recorded series itself, and its expression evaluated afresh: the same data.
    _assert_returns_data(events, api, expr, record)
    assert api.query(record, at=events.checked_at), f"{record} was not recorded"


_QUERIES = dashboard_queries(load_dashboard())


@pytest.mark.parametrize("query", _QUERIES, ids=[f"{q.panel}-{q.ref}" for q in _QUERIES])
def test_a_dashboard_query_returns_data(
    timeline: tuple[Timeline, PrometheusAPI], query: Any
) -> None:
    events, api = timeline
    expr = substitute(query.expr, {"job": "toolcatalog", "instance": ".*"})
    _assert_returns_data(events, api, expr, f"panel {query.panel!r} ({query.ref})")


def test_the_dashboard_variables_find_the_job_and_the_instance(
    timeline: tuple[Timeline, PrometheusAPI],
) -> None:
    events, api = timeline
    variables = variable_queries(load_dashboard())
    match, label = parse_label_values(variables["job"])
    assert "toolcatalog" in api.label_values(label, match, events.checked_at)
    match, label = parse_label_values(variables["instance"])
    selector = substitute(match or "", {"job": "toolcatalog"})
    assert events.instance in api.label_values(label, selector, events.checked_at)
