"""What a CLI command costs to start (#15 item 4), asserted as structure, never as time: a
command imports only what it needs, every command of the lazy table still loads, and a
repeated `select --catalog` answers alike from the kept snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolcatalog.cli.main import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "catalog"
# Heavy packages that only some commands need: the database driver and store, the service
# layer, the HTTP server, the MCP SDK.
HEAVY = (
    "asyncpg",
    "uvicorn",
    "mcp",
    "fastapi",
    "toolcatalog.runtime",
    "toolcatalog.catalog.service",
)


def _imported_after(argv: list[str], home: Path) -> list[str]:
    """Run the CLI with `argv` in a fresh interpreter; which HEAVY modules it imported."""
    script = (
        "import json, sys\n"
        f"sys.argv = ['toolcatalog', *{argv!r}]\n"
        "from toolcatalog.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    env = {**os.environ, "TOOLCATALOG_HOME": str(home), "TOOLCATALOG_SEMANTIC": "false"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_version_imports_none_of_the_heavy_packages(tmp_path: Path) -> None:
    assert _imported_after(["--version"], tmp_path) == []


@pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")
def test_select_on_a_catalog_folder_imports_no_database_server_or_mcp_code(
    tmp_path: Path,
) -> None:
    argv = ["select", "why is / full on db2", "--catalog", str(STARTER), "--json"]
    assert _imported_after(argv, tmp_path) == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_of_the_lazy_table_loads_and_shows_its_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_a_mistyped_command_is_answered_with_the_closest_names() -> None:
    result = CliRunner().invoke(app, ["selct", "disk"])
    assert result.exit_code == 2
    assert "Did you mean 'select'?" in result.output


def test_the_root_group_maps_a_refusal_to_one_line_and_exit_1() -> None:
    # In process, without main(): every command runs inside the one error mapping.
    result = CliRunner().invoke(app, ["select", "", "--catalog", "."])
    assert result.exit_code == 1
    assert result.output.startswith("error: request")
    assert isinstance(result.exception, SystemExit)


@pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")
def test_a_repeated_select_on_a_catalog_folder_answers_alike_from_the_kept_snapshot(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TOOLCATALOG_HOME": str(tmp_path), "TOOLCATALOG_SEMANTIC": "false"}
    cmd = [sys.executable, "-m", "toolcatalog.cli.main", "select", "why is / full on db2"]
    cmd += ["--catalog", str(STARTER), "--json"]

    def decision() -> object:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        return [(c["tool"], c["capability"], c["pattern"]) for c in answer["candidates"]]

    first = decision()
    assert list((tmp_path / "cache").glob("catalog-*.snapshot"))
    assert decision() == first
