"""The Grafana dashboard and its provisioning, read as Grafana would: a current schema, the
data source as a variable, `job`/`instance` filters on every query, a panel for each figure
issue 7 lists, and provisioning files that load it without clicking. (That every query
parses and returns data is proven against a real Prometheus in test_prometheus_e2e.py.)"""

from __future__ import annotations

import re
from typing import Any

import yaml
from monitoring_files import (
    PROVISIONING,
    dashboard_panels,
    dashboard_queries,
    load_dashboard,
    metric_names,
    variable_queries,
)

DASHBOARD = load_dashboard()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Issue 7's panel list, as the series each needs.
REQUIRED_SERIES = {
    "health/up by instance": {"up", "toolcatalog_database_up"},
    "request rate by route, error ratio, latency": {
        "toolcatalog_http_requests_total",
        "toolcatalog_http_request_duration_seconds_bucket",
    },
    "cache hit ratio and size": {
        "toolcatalog_cache_hits_total",
        "toolcatalog_cache_misses_total",
        "toolcatalog_cache_entries",
    },
    "database query latency and errors": {
        "toolcatalog_db_query_duration_seconds_bucket",
        "toolcatalog_db_errors_total",
    },
    "pool usage": {"toolcatalog_db_pool_connections", "toolcatalog_db_pool_in_use"},
    "tool count by status": {"toolcatalog_tools"},
    "reloads and notify messages": {
        "toolcatalog_reloads_total",
        "toolcatalog_reload_errors_total",
        "toolcatalog_notify_messages_total",
    },
    "selection latency and decisions": {
        "toolcatalog_selection_duration_seconds_bucket",
        "toolcatalog_selection_decisions_total",
        "toolcatalog_selection_tie_breaks_total",
    },
}


def test_the_dashboard_uses_a_current_schema() -> None:
    assert DASHBOARD["schemaVersion"] >= 39  # Grafana 10.3 and later
    assert DASHBOARD["uid"] == "toolcatalog"
    assert "id" not in DASHBOARD, "a provisioned dashboard must not carry a database id"


def test_the_data_source_job_and_instance_are_variables() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == DATASOURCE
    assert variables["instance"]["includeAll"]
    assert variables["instance"]["allValue"] == ".*"
    assert "$job" in variable_queries(DASHBOARD)["instance"]


def test_every_panel_and_query_reads_the_datasource_variable() -> None:
    wrong = [
        panel["title"]
        for panel in dashboard_panels(DASHBOARD)
        if panel.get("datasource") != DATASOURCE
        or any(t.get("datasource") != DATASOURCE for t in panel.get("targets", []))
    ]
    assert wrong == []


def test_every_selector_is_filtered_by_job_and_instance() -> None:
    unfiltered = []
    for query in dashboard_queries(DASHBOARD):
        for selector in re.finditer(r"\b(?:up|toolcatalog_\w+)(\{[^}]*\})?", query.expr):
            labels = selector.group(1) or ""
            if 'job=~"$job"' not in labels or 'instance=~"$instance"' not in labels:
                unfiltered.append(f"{query.panel} ({query.ref}): {selector.group()}")
    assert unfiltered == []


def test_every_panel_of_issue_7_is_there() -> None:
    used = set().union(*(metric_names(q.expr) for q in dashboard_queries(DASHBOARD)))
    missing = {topic: series - used for topic, series in REQUIRED_SERIES.items() if series - used}
    assert missing == {}


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = DASHBOARD["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_query_has_a_ref_id_and_a_legend() -> None:
    for panel in dashboard_panels(DASHBOARD):
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(t.get("legendFormat") for t in panel["targets"]), panel["title"]


def _yaml(path: str) -> Any:
    return yaml.safe_load((PROVISIONING / path).read_text())


def test_the_provisioning_files_declare_the_data_source_and_the_dashboard_folder() -> None:
    datasources = _yaml("datasources/toolcatalog.yml")
    assert datasources["apiVersion"] == 1
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["isDefault"] is True  # what the datasource variable picks first
    dashboards = _yaml("dashboards/toolcatalog.yml")
    (provider,) = dashboards["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/toolcatalog"
