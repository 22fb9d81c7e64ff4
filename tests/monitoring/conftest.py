"""Fixtures of the monitoring tests: Prometheus' binaries, installed once per run from the
Debian package if they are not on PATH. The tests that need them are skipped, with the
reason, only when that install fails."""

from __future__ import annotations

import time

import pytest
from prometheus_install import PrometheusTools, install_prometheus, which_prometheus
from prometheus_stack import report_line


@pytest.fixture(scope="session")
def prometheus_tools(request: pytest.FixtureRequest) -> PrometheusTools:
    found = which_prometheus()
    if found is not None:
        return PrometheusTools(*found, installed_in_s=None)
    start = time.monotonic()
    failure = install_prometheus()
    elapsed = time.monotonic() - start
    if failure is not None:
        pytest.skip(f"Prometheus is not on PATH and could not be installed: {failure}")
    report_line(
        request.config, f"\ntests/monitoring: installed Prometheus (apt) in {elapsed:.1f} s"
    )
    found = which_prometheus()
    assert found is not None
    return PrometheusTools(*found, installed_in_s=elapsed)
