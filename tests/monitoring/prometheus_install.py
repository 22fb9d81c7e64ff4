"""Prometheus' own binaries for the monitoring tests: `prometheus` and `promtool` from PATH, or
the Debian package installed with apt-get (we are root in CI and in the dev container)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

# Measured on the 2-core dev container (Debian 12, warm mirror): `apt-get update` 0.8 s,
# `apt-get install --no-install-recommends prometheus` 12.3 s for 12 packages. Recommends
# would add node-exporter, smartmontools and 23 more packages nobody here needs.
_UPDATE_TIMEOUT_S = 180
_INSTALL_TIMEOUT_S = 400
_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True)
class PrometheusTools:
    prometheus: str
    promtool: str
    installed_in_s: float | None  # None: they were already on PATH


def which_prometheus() -> tuple[str, str] | None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    return (prometheus, promtool) if prometheus and promtool else None


def _apt(*args: str, timeout: float) -> None:
    subprocess.run(
        ["apt-get", *args],
        env=_APT_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def install_prometheus() -> str | None:
    """Install the Debian package; None on success, else why not."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available (not a Debian-like system)"
    if os.geteuid() != 0:
        return "installing the prometheus package needs root"
    lock_wait = ("-o", "DPkg::Lock::Timeout=120")
    try:
        _apt("update", "-qq", *lock_wait, timeout=_UPDATE_TIMEOUT_S)
        _apt(
            "install", "-y", "-qq", "--no-install-recommends", *lock_wait, "prometheus",
            timeout=_INSTALL_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        return f"`apt-get {exc.cmd[1]}` failed ({exc.returncode}): {exc.stderr.strip()[-500:]}"
    except subprocess.TimeoutExpired as exc:
        return f"`apt-get {exc.cmd[1]}` did not finish within {exc.timeout:.0f} s"
    except OSError as exc:
        return f"could not run apt-get: {exc}"
    if which_prometheus() is None:
        return "the prometheus package installed but prometheus/promtool are not on PATH"
    return None
