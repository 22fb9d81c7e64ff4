"""`toolcatalog mcp` as an agent starts it: a real subprocess speaking MCP over stdio, reached
by the official SDK's client, on a fresh test database holding the starter catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "TOOLCATALOG_STARTUP_RETRY_S": "0",
        "TOOLCATALOG_POOL_MIN_SIZE": "1",
    }


@pytest.fixture
def starter_db_url(fresh_db_url: str) -> str:
    """A fresh database with the starter catalog imported by `toolcatalog import`."""
    imported = subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "import", str(STARTER)],
        env=_env(fresh_db_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    return fresh_db_url


async def test_the_stdio_server_lists_selects_finds_and_describes(starter_db_url: str) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "toolcatalog.cli.main", "mcp"],
        env=_env(starter_db_url),
    )
    async with Client(server, read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        selected = await client.call_tool("select_tool", {"request": "why is / full on db2"})
        found = await client.call_tool("find_tools", {"query": "disk", "limit": 5})
        described = await client.call_tool("describe_tool", {"name": "df"})
        unknown = await client.call_tool("no_such_mcp_tool", {})
    assert {t.name for t in listed.tools} == {"select_tool", "find_tools", "describe_tool"}
    assert selected.structured_content is not None
    assert selected.structured_content["decision"]["tool"] in {"du", "ncdu", "df"}
    assert found.structured_content is not None
    assert found.structured_content["tools"]
    assert described.structured_content is not None
    assert described.structured_content["name"] == "df"
    assert unknown.is_error
    assert "no_such_mcp_tool" in unknown.content[0].text  # type: ignore[union-attr]


def test_the_stdio_server_without_a_database_fails_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "mcp"],
        env=_env("postgresql://nobody@127.0.0.1:1/none"),
        input="",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # stdout is the protocol's: nothing else is ever written there
    assert "error" in done.stderr.lower()
    assert "Traceback" not in done.stderr
