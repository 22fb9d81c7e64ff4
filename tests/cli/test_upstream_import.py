"""`toolcatalog import --format mcp|openapi` as a user runs it: a real MCP server started by
its command line, drift reported in --json with exit 1 and applied only with --accept-drift."""

from __future__ import annotations

import json

from test_catalog_commands import run

from upstream_servers import PETSTORE, stdio


def test_drift_is_listed_in_json_exits_1_and_is_taken_only_when_accepted(
    fresh_db_url: str,
) -> None:
    first = run(fresh_db_url, "import", "--format", "mcp", stdio(1), "--json")
    drifted = run(fresh_db_url, "import", "--format", "mcp", stdio(2), "--json")
    accepted = run(fresh_db_url, "import", "--format", "mcp", stdio(2), "--accept-drift")

    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["created"]) == 5
    assert drifted.returncode == 1
    report = json.loads(drifted.stdout)
    assert report["created"] == ["get_radar"]
    [drift] = report["drifted"]
    assert drift["name"] == "get_forecast"
    assert drift["accepted"] is False
    assert any("id_rsa" in str(d.get("to")) for d in drift["diff"])
    assert accepted.returncode == 0, accepted.stderr
    assert "drifted: get_forecast (mcp:weather/get_forecast) changed upstream" in accepted.stderr
    assert "updated 1" in accepted.stdout


def test_an_openapi_spec_imports_with_a_summary(fresh_db_url: str) -> None:
    done = run(fresh_db_url, "import", "--format", "openapi", str(PETSTORE), "--per-tag")

    assert done.returncode == 0, done.stderr
    assert "created 3" in done.stdout
    assert "header parameter 'api_key' left out" in done.stderr


def test_two_sources_for_mcp_are_a_usage_error_in_one_line(fresh_db_url: str) -> None:
    done = run(fresh_db_url, "import", "--format", "mcp", "stdio:a", "stdio:b")

    assert done.returncode == 1
    assert "takes one source" in done.stderr
    assert "Traceback" not in done.stderr
