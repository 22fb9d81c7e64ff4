"""Reading the monitoring files the tests check: the rules, the dashboard, the runbook, the
metrics table of the docs, and the Prometheus text exposition."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "monitoring" / "prometheus" / "rules_test.yml"
PROMETHEUS_CONFIG = ROOT / "monitoring" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "monitoring" / "grafana" / "toolcatalog.json"
PROVISIONING = ROOT / "monitoring" / "grafana" / "provisioning"
RUNBOOK = ROOT / "docs" / "runbook.md"
METRICS_DOC = ROOT / "docs" / "metrics.md"
README = ROOT / "README.md"

# Series that Prometheus makes itself, not the service.
PROMETHEUS_OWN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

# What Grafana puts in place of its variables when the e2e test sends a panel's query to
# Prometheus itself. A 1 m rate window spans 60 scrapes at the test's 1 s interval.
GRAFANA_BUILTINS = {
    "$__rate_interval": "1m",
    "$__interval": "5s",
    "$__range": "5m",
}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTORS = re.compile(r"\{[^{}]*\}")
_IDENT = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*")
_CLAUSES = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)
_DURATION = re.compile(r"\[[^\]]*\]")


def metric_names(expr: str) -> set[str]:
    """Every metric (or recording rule) a PromQL expression reads: identifiers that are not
    functions, keywords, label names or durations."""
    text = _STRINGS.sub('""', expr)
    text = _SELECTORS.sub("{}", text)
    text = _CLAUSES.sub("", text)
    text = _DURATION.sub("", text)
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        name = match.group()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function call or an operator
        names.add(name)
    return names


def load_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def recording_rules() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "record" in rule]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref: str
    expr: str


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves left out."""
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def dashboard_queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(panel["title"], target["refId"], target["expr"])
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """name -> query of the dashboard's query variables."""
    out = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            out[variable["name"]] = query["query"] if isinstance(query, dict) else query
    return out


def substitute(expr: str, variables: dict[str, str]) -> str:
    """The query Grafana would send: builtins and the dashboard's variables replaced."""
    for name, value in sorted(
        {**GRAFANA_BUILTINS, **{f"${k}": v for k, v in variables.items()}}.items(),
        key=lambda item: -len(item[0]),  # $__rate_interval before $__range before $__r...
    ):
        expr = expr.replace(name, value)
    if "$" in expr:
        raise AssertionError(f"unsubstituted variable left in {expr!r}")
    return expr


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>\w+)\)$")


def parse_label_values(query: str) -> tuple[str | None, str]:
    """(series selector or None, label) of a Grafana `label_values(...)` variable query."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        raise AssertionError(f"not a label_values() query: {query!r}")
    return match.group("match"), match.group("label")


def markdown_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        markdown_anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }


def runbook_sections() -> dict[str, str]:
    """Level-2 heading -> the section's text."""
    sections: dict[str, str] = {}
    current = None
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


# ------------------------------------------------------------------ the metrics table


@dataclass(frozen=True)
class DocumentedMetric:
    name: str
    type: str
    labels: frozenset[str]


def _section(text: str, heading: str) -> str | None:
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1) if match else None


def metrics_table(text: str) -> dict[str, DocumentedMetric]:
    """The rows of the first table whose first column is `Metric`."""
    rows: dict[str, DocumentedMetric] = {}
    in_table = False
    for line in text.splitlines():
        cells = (
            [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        )
        if not cells:
            if in_table:
                break
            continue
        if cells[0] == "Metric":
            in_table = True
            continue
        if not in_table or set(cells[0]) <= {"-", ":"}:
            continue
        name = cells[0].strip("`")
        labels = frozenset(re.findall(r"`(\w+)`", cells[2]))
        rows[name] = DocumentedMetric(name, cells[1].split()[0], labels)
    return rows


def documented_metric_tables() -> dict[str, dict[str, DocumentedMetric]]:
    """Where the metrics are documented -> its table: docs/metrics.md, and README.md's
    `## Metrics` section once it holds the table (until then it links to docs/metrics.md)."""
    tables = {}
    if METRICS_DOC.exists():
        tables["docs/metrics.md"] = metrics_table(METRICS_DOC.read_text())
    if README.exists():
        section = _section(README.read_text(), "Metrics")
        if section is not None and metrics_table(section):
            tables["README.md"] = metrics_table(section)
    return tables


# ------------------------------------------------------------------ the exposition


@dataclass
class ExportedMetric:
    name: str  # as queried: counters with _total, histograms without a suffix
    type: str
    labels: set[str]
    has_samples: bool
    observations: float = 0.0  # histograms: the sum of their _count samples

    @property
    def has_data(self) -> bool:
        """Something a query can compute with: samples, and for a histogram observations."""
        return self.has_samples and (self.type != "histogram" or self.observations > 0)

    def series_names(self) -> set[str]:
        if self.type == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"}
        return {self.name}


def parse_exposition(text: str) -> dict[str, ExportedMetric]:
    """Metrics of a Prometheus text exposition, from its TYPE lines and samples. The
    `X_created` gauges prometheus_client adds beside counters and histograms belong to X."""
    metrics: dict[str, ExportedMetric] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            metrics[name] = ExportedMetric(name, kind, set(), False)
    for name in list(metrics):
        base = name.removesuffix("_created")
        owners = (metrics.get(base), metrics.get(base + "_total"))
        if base != name and any(
            o is not None and o.type in {"counter", "histogram"} for o in owners
        ):
            del metrics[name]
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        sample, _, labels = series.partition("{")
        owner = _owner(metrics, sample)
        if owner is None:
            continue
        owner.has_samples = True
        if sample.endswith("_count") and owner.type == "histogram":
            owner.observations += float(value)
        owner.labels |= {pair.split("=", 1)[0] for pair in re.findall(r'(\w+)="', labels)} - {"le"}
    return metrics


def _owner(metrics: dict[str, ExportedMetric], sample: str) -> ExportedMetric | None:
    for suffix in ("", "_bucket", "_sum", "_count"):
        if suffix and sample.endswith(suffix) and sample.removesuffix(suffix) in metrics:
            return metrics[sample.removesuffix(suffix)]
        if not suffix and sample in metrics:
            return metrics[sample]
    return None
