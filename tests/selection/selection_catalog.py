"""A small catalog written as YAML in a temporary folder, so selection tests do not move with
the starter catalog. Profiles are chosen so that preferences, not wording, separate df from du
and an instant from a range query."""

from __future__ import annotations

import textwrap
from pathlib import Path

from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

VOCABULARY = """
vocabulary:
  - name: disk_usage
    description: Free and used space per mounted file system.
    aliases: [disk_monitoring, free_space]
  - name: directory_size
    description: Space used per directory.
    aliases: [space_analysis]
  - name: metrics_query
    description: Query time series metrics.
    aliases: [promql]
  - name: service_control
    description: Start, stop or restart services.
    aliases: [service_management, restart_service]
  - name: service_status
    description: Whether a service runs.
    aliases: [service_check]
"""

DF = """
name: df
description: Reports free and used disk space per mounted filesystem, instantly.
platform: linux
category: storage
tags: [disk, space, filesystem]
examples: [how much disk space is free on the server, is the disk full]
capabilities:
  - name: disk_usage
    description: Free and used disk space per mount.
    patterns:
      - name: summary
        description: Disk space summary of every mount.
        profile: {time_estimate_ms: 50, cost_estimate: 1, complexity: 0.1, accuracy: 0.9,
                  completeness: 0.4}
        effect: read
        policy: {production_safe: true}
"""

DU = """
name: du
description: Walks directories to report the disk space each one uses, a full report.
platform: linux
category: storage
tags: [disk, space, filesystem]
examples: [what is using the disk space on the server, is the disk full]
capabilities:
  - name: directory_size
    description: Disk space used per directory.
    patterns:
      - name: deep_scan
        description: Disk space of every directory down the tree.
        inputs:
          type: object
          properties:
            files: {type: integer, default: 200000}
        profile: {time_estimate_ms: "500 + 0.05 * files", cost_estimate: "2 + files / 50000",
                  complexity: 0.3, accuracy: 0.95, completeness: 1.0}
        effect: read
        policy: {production_safe: true, requires_background_if: "files > 500000"}
"""

PROMETHEUS = """
name: prometheus
description: Queries metrics from a Prometheus server with PromQL.
platform: cross-platform
category: monitoring
tags: [metrics, promql]
examples: [what is the request rate of the api, cpu metrics of the web tier]
capabilities:
  - name: metrics_query
    description: Evaluate a PromQL expression.
    patterns:
      - name: instant_query
        description: Evaluate the expression at one instant.
        profile: {time_estimate_ms: 80, cost_estimate: 1, complexity: 0.3, accuracy: 0.8,
                  completeness: 0.3}
        effect: read
        policy: {production_safe: true}
      - name: range_query
        description: Evaluate the expression over a window of time at a step.
        profile: {time_estimate_ms: 3000, cost_estimate: 4, complexity: 0.4, accuracy: 0.9,
                  completeness: 0.95}
        effect: read
        policy: {production_safe: true}
"""

SYSTEMCTL = """
name: systemctl
description: Controls and inspects systemd services and units.
platform: linux
category: service
tags: [systemd, service, daemon]
examples: [restart nginx, is the nginx service running]
capabilities:
  - name: service_status
    description: Show whether a service is running.
    patterns:
      - name: status
        description: systemctl status of one unit.
        profile: {time_estimate_ms: 60, cost_estimate: 1, complexity: 0.1, accuracy: 0.9,
                  completeness: 0.6}
        effect: read
        policy: {production_safe: true}
  - name: service_control
    description: Start, stop or restart a service (changes state).
    patterns:
      - name: restart
        description: systemctl restart of one unit, a short outage.
        profile: {time_estimate_ms: 2000, cost_estimate: 1, complexity: 0.2, accuracy: 0.9,
                  completeness: 0.9}
        effect: change
        policy: {production_safe: false, requires_approval: true}
"""

GET_SERVICE = """
name: get_service
description: PowerShell Get-Service shows and restarts Windows services.
platform: windows
category: service
tags: [windows, service, powershell]
examples: [restart the spooler service, is the windows service running]
capabilities:
  - name: service_status
    description: Whether a Windows service is running.
    patterns:
      - name: status
        description: Get-Service of one service.
        profile: {time_estimate_ms: 300, cost_estimate: 1, complexity: 0.2, accuracy: 0.9,
                  completeness: 0.6}
        effect: read
        policy: {production_safe: true}
"""

# Added by the hot-reload tests: a tool the catalog above lacks.
LOGROTATE = """
name: logrotate
description: Rotates, compresses and removes log files on a schedule.
platform: linux
category: logs
examples: [rotate the nginx logs now]
capabilities:
  - name: log_rotation
    description: Rotate log files.
    patterns:
      - name: force
        effect: change
        description: Force a rotation now.
        policy: {production_safe: true}
"""

CATALOG = {
    "capabilities.yaml": VOCABULARY,
    "storage/df.yaml": DF,
    "storage/du.yaml": DU,
    "monitoring/prometheus.yaml": PROMETHEUS,
    "service/systemctl.yaml": SYSTEMCTL,
    "service/get_service.yaml": GET_SERVICE,
}


def terse_tool(name: str, description: str, effect: str | None = None) -> str:
    """A tool as a description-only import has it: one capability `use`, one pattern
    `default`, both described by the description; `effect` declared only when given."""
    declared = f"effect: {effect}\n" + " " * 12 if effect else ""
    return f"""
    name: {name}
    description: {description}
    platform: cross-platform
    category: general
    capabilities:
      - name: use
        description: {description}
        patterns:
          - name: default
            description: {description}
            {declared}policy: {{production_safe: true}}
    """


def write_catalog(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def write_terse_catalog(folder: Path, descriptions: dict[str, str]) -> Path:
    """A catalog of `terse_tool`s, one per name -> description."""
    return write_catalog(folder, {f"{n}.yaml": terse_tool(n, d) for n, d in descriptions.items()})


def ask(selector: Selector, text: str, **fields: object) -> tuple[str | None, str | None]:
    """The decided (tool, pattern), or (None, None)."""
    result = selector.select(SelectionRequest.model_validate({"request": text, **fields}))
    if result.decision is None:
        return None, None
    return result.decision.tool, result.decision.pattern
