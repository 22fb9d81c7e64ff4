"""`toolcatalog analytics` as a user runs it: real processes over a database holding
reported telemetry; tables for people, the API's shapes with --json, a bad window exits 1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from builders import make_settings, make_tool
from toolcatalog.runtime import open_runtime


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TOOLCATALOG_STARTUP_RETRY_S": "0"}
    return subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "analytics", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def report(url: str, home: Path) -> None:
    """40 runs of alpha_tool's pattern yesterday, each 10x its declared 50 ms."""

    async def go() -> None:
        async with open_runtime(make_settings(url, home), listen=False) as runtime:
            await runtime.catalog.import_definitions([make_tool("alpha_tool")])
            at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            event = {
                "tool": "alpha_tool", "capability": "process_list", "pattern": "snapshot",
                "duration_ms": 500.0, "success": True, "at": at,
            }  # fmt: skip
            done = await runtime.telemetry.ingest([event] * 40, reporter="test")
            assert done.accepted == 40

    asyncio.run(go())


def test_usage_profiles_and_capacity_as_tables_and_json(fresh_db_url: str, tmp_path: Path) -> None:
    report(fresh_db_url, tmp_path)
    table = run(fresh_db_url, "usage", "--by", "pattern")
    assert table.returncode == 0, table.stderr
    assert "alpha_tool/process_list/snapshot" in table.stdout
    usage = json.loads(run(fresh_db_url, "usage", "--interval", "all", "--json").stdout)
    assert [(b["key"], b["calls"], b["bucket"]) for b in usage["buckets"]] == [
        ("alpha_tool", 40, None)
    ]

    profiles = run(fresh_db_url, "profiles")
    assert profiles.returncode == 0, profiles.stderr
    assert "alpha_tool/process_list/snapshot" in profiles.stdout
    [profile] = json.loads(run(fresh_db_url, "profiles", "--json").stdout)["patterns"]
    assert 9 < profile["time_ratio"] < 11

    capacity = json.loads(run(fresh_db_url, "capacity", "--days", "2", "--json").stdout)
    assert capacity["tools"][0]["daily_calls"] == [0, 40]
    assert "alpha_tool" in run(fresh_db_url, "capacity").stdout


def test_a_window_that_ends_before_it_starts_exits_1(fresh_db_url: str) -> None:
    done = run(fresh_db_url, "usage", "--since", "2026-02-01", "--until", "2026-01-01")
    assert done.returncode == 1
    assert "until" in done.stderr
    assert "Traceback" not in done.stderr
