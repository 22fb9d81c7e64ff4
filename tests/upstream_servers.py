"""Real MCP servers (written with the official SDK) as import sources for the tests: the
weather server's command line for stdio, and the same server over Streamable HTTP on a free
loopback port, stopped when the block ends."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER = Path(__file__).parent / "catalog" / "fixtures" / "weather_mcp_server.py"
PETSTORE = Path(__file__).parent / "formats" / "fixtures" / "petstore-openapi.yaml"
WEATHER = ["get_forecast", "get_alerts", "delete_station", "set_units", "ping"]
START_TIMEOUT_S = 120.0  # a busy CI machine starts a Python MCP server slowly


def stdio(variant: int = 1) -> str:
    return f"stdio:{sys.executable} {SERVER} stdio --variant {variant}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def weather_http_server(variant: int = 1) -> Iterator[str]:
    """The server's /mcp URL once it listens; terminated (killed after 30 s) at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port), "--variant", str(variant)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "the MCP server exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the MCP server did not listen in time"
                time.sleep(0.1)  # polling a port, not waiting for an outcome
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
