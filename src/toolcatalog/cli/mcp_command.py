"""`toolcatalog mcp`: the catalog's MCP server over stdio, for a local agent that starts it
as a subprocess. The same tools and resources as /mcp on `toolcatalog serve`; it reads the
database of DATABASE_URL (else the embedded one), applies pending migrations, and hears the
catalog's changes like a replica. stdout carries the protocol only; logs go to stderr."""

from __future__ import annotations

import asyncio

from toolcatalog.cli.running import cli_settings
from toolcatalog.config import Settings
from toolcatalog.mcp.server import build_mcp_server
from toolcatalog.runtime import open_runtime


async def _serve_stdio(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        server = await build_mcp_server(runtime)
        await server.run_stdio_async()


def mcp_command() -> None:
    """Serve the catalog's MCP server (select_tool, find_tools, describe_tool) over stdio."""
    asyncio.run(_serve_stdio(cli_settings()))
