"""The alert rules as operators meet them: every alert carries a `for`, its severity, the
service, a summary, a description with the value and a runbook link to a section that says
what it means, how to confirm it and how to mitigate it; and the promtool tests make every
alert both fire and stay silent."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from monitoring_files import (
    RULES_TEST,
    alert_rules,
    recording_rules,
    runbook_anchors,
    runbook_sections,
)

# The severities issue 7 asks for, alert by alert.
EXPECTED_SEVERITY = {
    "ToolcatalogDown": ("critical", "P1"),
    "ToolcatalogAllReplicasDegraded": ("critical", "P1"),
    "ToolcatalogHighErrorRatio": ("critical", "P1"),
    "ToolcatalogHighLatencyP99": ("critical", "P1"),
    "ToolcatalogHighLatencyP95": ("high", "P2"),
    "ToolcatalogCacheHitRatioLow": ("high", "P2"),
    "ToolcatalogDatabaseErrors": ("high", "P2"),
    "ToolcatalogReloadFailures": ("high", "P2"),
    "ToolcatalogListenerDisconnected": ("high", "P2"),
    "ToolcatalogNoTraffic": ("low", "P3"),
    "ToolcatalogProfileDrift": ("low", "P3"),  # issue 17
}
RUNBOOK_BASE = "https://github.com/toolcatalog/toolcatalog/blob/main/docs/runbook.md#"
ALERTS = alert_rules()


def _by_name(name: str) -> dict[str, Any]:
    return next(rule for rule in ALERTS if rule["alert"] == name)


def test_the_rules_define_exactly_the_alerts_of_issues_7_and_17() -> None:
    assert sorted(rule["alert"] for rule in ALERTS) == sorted(EXPECTED_SEVERITY)


@pytest.mark.parametrize("name", sorted(EXPECTED_SEVERITY))
def test_an_alert_has_for_severity_service_and_annotations(name: str) -> None:
    rule = _by_name(name)
    assert re.fullmatch(r"\d+[smh]", rule["for"]), "every alert waits before firing"
    severity, priority = EXPECTED_SEVERITY[name]
    assert rule["labels"] == {"severity": severity, "priority": priority, "service": "toolcatalog"}
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert "$value" in annotations["description"], "the description states the value"
    assert annotations["runbook_url"] == RUNBOOK_BASE + name.lower()


def test_every_runbook_url_points_at_a_section_of_the_runbook() -> None:
    anchors = runbook_anchors()
    missing = [
        rule["alert"]
        for rule in ALERTS
        if rule["annotations"]["runbook_url"].split("#", 1)[1] not in anchors
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(EXPECTED_SEVERITY))
def test_the_runbook_says_what_an_alert_means_and_how_to_confirm_and_mitigate(name: str) -> None:
    section = runbook_sections().get(name)
    assert section is not None, f"docs/runbook.md has no '## {name}' section"
    for part in ("**Meaning.**", "**Confirm.**", "**Mitigate.**"):
        assert part in section, f"the {name} section has no {part} paragraph"


def _alert_cases() -> dict[str, dict[str, bool]]:
    """alert name -> {"fires": ..., "silent": ...} over the promtool test cases: whether some
    case expects it firing, and whether some case expects it silent after its `for`."""
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    seen: dict[str, dict[str, bool]] = {}
    for case in tests:
        for check in case.get("alert_rule_test", []):
            entry = seen.setdefault(check["alertname"], {"fires": False, "silent": False})
            if check.get("exp_alerts"):
                entry["fires"] = True
            elif _minutes(check["eval_time"]) > _minutes(_by_name(check["alertname"])["for"]):
                entry["silent"] = True
    return seen


def _minutes(duration: str) -> float:
    value, unit = float(duration[:-1]), duration[-1]
    return value * {"s": 1 / 60, "m": 1, "h": 60}[unit]


def test_the_promtool_tests_make_every_alert_fire_and_stay_silent() -> None:
    cases = _alert_cases()
    untested = {
        name: cases.get(name, {"fires": False, "silent": False})
        for name in EXPECTED_SEVERITY
        if cases.get(name) != {"fires": True, "silent": True}
    }
    assert untested == {}


def test_recording_rules_are_named_level_metric_operation() -> None:
    bad = [
        rule["record"]
        for rule in recording_rules()
        if not re.fullmatch(r"[a-z_]+:toolcatalog_[a-z_]+:[a-z0-9_]+", rule["record"])
    ]
    assert bad == []


def test_the_recording_rules_cover_what_issue_7_lists() -> None:
    records = {rule["record"] for rule in recording_rules()}
    wanted = {
        "job_route:toolcatalog_http_requests:rate5m",
        "job_route:toolcatalog_http_errors:ratio_rate5m",
        "job_route:toolcatalog_http_request_duration_seconds:p95_5m",
        "job_route:toolcatalog_http_request_duration_seconds:p99_5m",
        "job_cache:toolcatalog_cache_hits:ratio_rate5m",
        "job:toolcatalog_db_errors:ratio_rate5m",
        "job:toolcatalog_db_query_duration_seconds:p95_5m",
        "job:toolcatalog_reload_errors:increase15m",
    }
    assert wanted <= records
