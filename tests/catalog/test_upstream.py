"""Importing from real MCP servers written with the official SDK (a stdio command and a
Streamable HTTP server) and from an OpenAPI spec: pins, drift held or accepted, local edits
kept while the upstream is unchanged."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.upstream import import_upstream, mcp_source
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import InvalidDefinition, UpstreamUnavailable
from toolcatalog.formats.upstream import pin_of
from upstream_servers import PETSTORE, WEATHER, stdio, weather_http_server


@pytest.fixture
def http_server() -> Iterator[str]:
    with weather_http_server() as url:
        yield url


async def do_import(service: ToolCatalogService, source: str, fmt: str = "mcp", **kw: Any) -> Any:
    return await import_upstream(
        service, fmt, source, actor=Actor("test"), timeout_s=120.0, max_tools=100, **kw
    )


async def test_a_stdio_server_imports_every_page_of_its_tools_pinned(
    service: ToolCatalogService,
) -> None:
    done = await do_import(service, stdio())

    assert done.report is not None
    assert sorted(done.report.created) == sorted(WEATHER)
    tool = (await service.get_tool("get_forecast")).tool
    pin = pin_of(tool.metadata)
    assert pin is not None
    assert (pin["server"], pin["server_version"], pin["transport"]) == ("weather", "1.0.0", "stdio")
    assert tool.capabilities[0].patterns[0].inputs["required"] == ["city"]


async def test_a_changed_upstream_is_held_as_drift_until_accepted(
    service: ToolCatalogService,
) -> None:
    await do_import(service, stdio())
    before = (await service.get_tool("get_forecast")).tool

    held = await do_import(service, stdio(variant=2))

    assert held.report is not None
    assert held.report.created == ["get_radar"]
    assert held.report.held == ["get_forecast"]
    [drift] = held.report.drifted
    changed = {d["path"]: d for d in drift.diff}
    assert "id_rsa" in changed["description"]["to"]
    assert (await service.get_tool("get_forecast")).tool == before

    accepted = await do_import(service, stdio(variant=2), accept_drift=["get_forecast"])

    assert accepted.report is not None
    assert accepted.report.updated == ["get_forecast"]
    assert accepted.report.held == []
    assert "id_rsa" in (await service.get_tool("get_forecast")).tool.description


async def test_an_unchanged_upstream_leaves_local_edits_alone(
    service: ToolCatalogService,
) -> None:
    await do_import(service, stdio())
    await service.patch_tool("ping", {"description": "Health check of the weather service."})

    again = await do_import(service, stdio())

    assert again.report is not None
    assert sorted(again.report.unchanged) == sorted(WEATHER)
    assert again.report.drifted == []
    assert (await service.get_tool("ping")).tool.description.startswith("Health check")


async def test_a_streamable_http_server_imports_with_its_url_as_target(
    service: ToolCatalogService, http_server: str
) -> None:
    done = await do_import(service, http_server, dry_run=True)

    assert done.report is not None
    assert done.report.dry_run
    assert sorted(done.report.created) == sorted(WEATHER)
    assert done.upstream.source.transport == "streamable-http"
    assert done.upstream.tools[0].execution.url == http_server  # type: ignore[union-attr]
    assert await service.tool_count() == 0


async def test_an_unreachable_server_is_one_clear_error(service: ToolCatalogService) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    with pytest.raises(UpstreamUnavailable) as caught:
        await do_import(service, f"http://127.0.0.1:{port}/mcp")
    assert f"127.0.0.1:{port}" in caught.value.detail

    with pytest.raises(UpstreamUnavailable):
        await do_import(service, "stdio:/nonexistent/mcp-server --flag")


def test_a_source_that_is_neither_stdio_nor_a_url_is_refused() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        mcp_source("weather.py")
    assert "stdio:<command line>" in caught.value.problems[0].message


async def test_the_petstore_spec_imports_per_tag_and_reimports_unchanged(
    service: ToolCatalogService,
) -> None:
    first = await do_import(service, str(PETSTORE), "openapi", group="tag")
    again = await do_import(service, str(PETSTORE), "openapi", group="tag")

    assert first.report is not None
    assert again.report is not None
    names = ["swagger_petstore_pet", "swagger_petstore_store", "swagger_petstore_user"]
    assert sorted(first.report.created) == names
    assert sorted(again.report.unchanged) == names
