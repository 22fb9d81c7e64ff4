"""The names the rules and the dashboard read are the names `/metrics` exports, and every
exported metric is documented (name, type and labels) in the metrics table: docs/metrics.md,
and README.md's `## Metrics` section once the table is there."""

from __future__ import annotations

import httpx
import pytest
from monitoring_files import (
    PROMETHEUS_OWN,
    ExportedMetric,
    dashboard_queries,
    documented_metric_tables,
    load_dashboard,
    load_rules,
    metric_names,
    parse_exposition,
    recording_rules,
)

from builders import make_tool
from toolcatalog.api.app import create_app
from toolcatalog.catalog.service import Actor
from toolcatalog.config import Settings
from toolcatalog.runtime import open_runtime
from toolcatalog.store.database import Database


@pytest.fixture
async def exported(settings: Settings, db: Database) -> dict[str, ExportedMetric]:
    """What `/metrics` exports after a little traffic through the real app."""
    async with open_runtime(settings, db=db, listen=False, migrate=False) as runtime:
        await runtime.catalog.import_definitions([make_tool("metrics_probe")], actor=Actor("test"))
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for path in (
                "/api/v1/tools/health",
                "/api/v1/tools",
                "/api/v1/tools/metrics_probe",
                "/api/v1/tools/metrics_probe",  # a cache hit
                "/api/v1/tools/no_such_tool",
            ):
                await client.get(path)
            response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_exposition(response.text)


def _used_by_rules_and_dashboard() -> dict[str, set[str]]:
    """series name -> where it is read."""
    used: dict[str, set[str]] = {}
    for rule in load_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule.get("record") or rule["alert"])
    for query in dashboard_queries(load_dashboard()):
        for name in metric_names(query.expr):
            used.setdefault(name, set()).add(f"panel {query.panel!r}")
    return used


def test_the_exposition_carries_our_metrics(exported: dict[str, ExportedMetric]) -> None:
    assert exported["toolcatalog_http_requests_total"].has_samples
    assert exported["toolcatalog_http_requests_total"].labels == {"route", "method", "status"}
    assert all(name.startswith("toolcatalog_") for name in exported)


def test_every_metric_the_rules_and_dashboard_read_is_exported(
    exported: dict[str, ExportedMetric],
) -> None:
    series = set().union(*(metric.series_names() for metric in exported.values()))
    records = {rule["record"] for rule in recording_rules()}
    unknown = {
        name: sorted(where)
        for name, where in _used_by_rules_and_dashboard().items()
        if name not in series | records | PROMETHEUS_OWN
    }
    assert unknown == {}


def test_the_metrics_are_documented_somewhere() -> None:
    assert documented_metric_tables(), "neither docs/metrics.md nor README.md has the table"


@pytest.mark.parametrize("source", sorted(documented_metric_tables()))
def test_every_exported_metric_is_documented_with_its_type_and_labels(
    exported: dict[str, ExportedMetric], source: str
) -> None:
    table = documented_metric_tables()[source]
    assert sorted(set(exported) - set(table)) == [], f"exported but not in {source}"
    assert sorted(set(table) - set(exported)) == [], f"in {source} but not exported"
    wrong_type = {
        n: (table[n].type, m.type) for n, m in exported.items() if table[n].type != m.type
    }
    assert wrong_type == {}, f"documented vs exported type in {source}"
    # Labels show only on metrics that have samples; those must match the table exactly.
    wrong_labels = {
        name: (sorted(table[name].labels), sorted(metric.labels))
        for name, metric in exported.items()
        if metric.has_samples and table[name].labels != metric.labels
    }
    assert wrong_labels == {}, f"documented vs exported labels in {source}"
