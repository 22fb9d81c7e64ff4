"""promtool on the checked-in files: the rules load, their unit tests pass, and the example
Prometheus configuration is valid."""

from __future__ import annotations

import subprocess

from monitoring_files import PROMETHEUS_CONFIG, RULES, RULES_TEST
from prometheus_install import PrometheusTools


def promtool(tools: PrometheusTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.promtool, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_rules_load(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_prometheus_configuration_is_valid(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
