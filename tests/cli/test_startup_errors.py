"""Start-up mistakes a newcomer makes get one line naming the cause and exit 1, never a trace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _toolcatalog(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("TOOLCATALOG_PORT", "abc", "valid integer"),
        ("TOOLCATALOG_WORKERS", "0", "greater than or equal to 1"),
        ("TOOLCATALOG_LOG_LEVEL", "loud", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("TOOLCATALOG_AUTH", "sometimes", "'optional' or 'required'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_1(
    variable: str, value: str, allowed: str
) -> None:
    result = _toolcatalog("db", "status", **{variable: value})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert repr(value) in lines[0]
    assert allowed in lines[0]
    assert "Traceback" not in result.stderr


def test_two_bad_settings_are_both_named() -> None:
    result = _toolcatalog("db", "status", TOOLCATALOG_PORT="x", TOOLCATALOG_CACHE_TTL_S="-1")
    assert result.returncode == 1
    assert "TOOLCATALOG_PORT" in result.stderr
    assert "TOOLCATALOG_CACHE_TTL_S" in result.stderr


def test_serve_on_a_busy_port_is_one_line_and_exit_1_before_any_work(tmp_path: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # No DATABASE_URL and a home that does not exist: the port is checked before any
        # database is started or migrated.
        result = _toolcatalog("serve", "--port", str(port), TOOLCATALOG_HOME=f"{tmp_path}/home")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "listening on" not in result.stdout
    assert not os.path.exists(f"{tmp_path}/home")


def test_version_prints_the_package_version() -> None:
    from toolcatalog.runtime import toolcatalog_version

    result = _toolcatalog("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"toolcatalog {toolcatalog_version()}"
