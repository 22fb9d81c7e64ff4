"""`build_mcp_server(runtime)`: the catalog's MCP server, built on the official SDK's
MCPServer. Three tools (select_tool, find_tools, describe_tool) and one resource template
(toolcatalog://tools/{name}); every answer comes from the runtime's selector and catalog,
the same code POST /api/v1/select and the search routes run."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from toolcatalog.errors import CatalogError
from toolcatalog.mcp.rendering import one_line, render_tool
from toolcatalog.mcp.results import READ_ONLY, text_result
from toolcatalog.mcp.select_tool import build_select_tool
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime

SERVER_NAME = "toolcatalog"
FIND_LIMIT_MAX = 50


class FoundTool(BaseModel):
    name: str
    summary: str = Field(description="The first line of the tool's description.")
    platform: str
    category: str
    capabilities: list[str]


class FoundTools(BaseModel):
    query: str
    total: int = Field(description="How many tools match in all (at most `limit` are listed).")
    tools: list[FoundTool] = Field(description="Best match first.")


def catalog_overview(snapshot: CatalogSnapshot) -> str:
    """One sentence on the catalog's size and biggest categories, for the tools' descriptions."""
    tools = [t for t in snapshot.tools if t.enabled]
    categories = Counter(t.category for t in tools).most_common(12)
    named = ", ".join(f"{name} ({count})" for name, count in categories)
    capabilities = len({c.name for t in tools for c in t.capabilities})
    return f"The catalog holds {len(tools)} enabled tools offering {capabilities} capabilities" + (
        f", in categories {named}." if named else "."
    )


async def build_mcp_server(runtime: Runtime) -> MCPServer:
    """The MCP server over an open runtime. Its tool descriptions state the catalog's size
    and categories as they are now (read once, here)."""
    try:
        overview = catalog_overview(await runtime.catalog.get_all_tools_with_structure())
    except CatalogError:  # the database is away at start: serve anyway, it may come back
        overview = "The catalog's size could not be read at start."
    server: MCPServer = MCPServer(
        SERVER_NAME,
        title="Tool Catalog",
        version=runtime.version,
        instructions=(
            "The catalog of operations tools an AI agent may run, and a selector that picks "
            f"the tool, capability and pattern for a request. {overview} Call select_tool "
            "with the user's request to get the decision; find_tools and describe_tool to "
            "browse."
        ),
        tools=[build_select_tool(runtime, overview)],
    )

    @server.tool(
        title="Find tools in the catalog",
        description=(
            f"Search the catalog's tools by words (names, descriptions, capabilities, tags, "
            f"examples), best match first, with a one-line summary each. {overview} "
            "Optional filters: platform (linux, windows, ...), category, capability (an "
            f"exact capability name); limit 1..{FIND_LIMIT_MAX}. Use describe_tool for a "
            "tool's full definition and select_tool to pick one for a request."
        ),
        annotations=READ_ONLY,
    )
    async def find_tools(
        query: Annotated[str, Field(min_length=1, max_length=500)],
        platform: str | None = None,
        category: str | None = None,
        capability: str | None = None,
        limit: Annotated[int, Field(ge=1, le=FIND_LIMIT_MAX)] = 10,
    ) -> Annotated[CallToolResult, FoundTools]:
        filters = ToolFilter(q=query, platform=platform, category=category, capability=capability)
        try:
            page = await runtime.catalog.list_tools(filters, limit=limit)
        except CatalogError as exc:
            raise ToolError(exc.detail) from None
        found = FoundTools(
            query=query,
            total=page.total,
            tools=[
                FoundTool(
                    name=t.name,
                    summary=one_line(t.description),
                    platform=t.platform.value,
                    category=t.category,
                    capabilities=[c.name for c in t.capabilities],
                )
                for t in (item.tool for item in page.items)
            ],
        )
        lines = [f"{len(found.tools)} of {found.total} tools match {query!r}:"] + [
            f"- {t.name} ({t.platform}, {t.category}): {t.summary}" for t in found.tools
        ]
        return text_result("\n".join(lines), found.model_dump(mode="json"))

    @server.tool(
        title="Describe a tool",
        description=(
            "The full definition of one catalog tool by its exact name: description, "
            "platform, category, capabilities with their patterns (inputs schema, "
            "performance profile, policy, execution) and tags. Also readable as the "
            "resource toolcatalog://tools/{name}."
        ),
        annotations=READ_ONLY,
    )
    async def describe_tool(
        name: Annotated[str, Field(min_length=1, max_length=200)],
    ) -> Annotated[CallToolResult, Tool]:
        try:
            tool = (await runtime.catalog.get_tool(name)).tool
        except CatalogError as exc:
            raise ToolError(f"{exc.detail}; find_tools lists the names") from None
        return text_result(render_tool(tool), tool.model_dump(mode="json", exclude_none=True))

    @server.resource(
        "toolcatalog://tools/{name}",
        name="tool",
        description="A catalog tool's full definition (JSON), by name.",
        mime_type="application/json",
    )
    async def tool_resource(name: str) -> str:
        try:
            return (await runtime.catalog.get_tool(name)).body.decode()
        except CatalogError as exc:
            raise ResourceError(exc.detail) from None

    return server
