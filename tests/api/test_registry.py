"""The MCP Registry v0.1 read API over the servers the catalog's tools were imported from:
the official shapes, search, paging with an opaque cursor, updated_since, versions, CORS."""

from __future__ import annotations

from typing import Any

import httpx

from builders import tool_doc
from toolcatalog.formats.upstream import UpstreamSource

from .support import Keys, assert_problem

OFFICIAL = "io.modelcontextprotocol.registry/official"


def pinned(name: str, source: UpstreamSource) -> dict[str, Any]:
    return tool_doc(name, metadata={"upstream": source.pin(name, {"name": name})})


WEATHER = UpstreamSource("mcp", "weather", "streamable-http", "https://w.example/mcp", "2.1.0")
FILES = UpstreamSource("mcp", "io.github.acme/files", "stdio", "npx -y @acme/files-mcp", "0.3.0")
PETS = UpstreamSource("openapi", "Petstore", "file", "petstore.yaml", "1.0.0")


async def _load(client: httpx.AsyncClient, keys: Keys) -> None:
    tools = [
        pinned("get_forecast", WEATHER), pinned("get_alerts", WEATHER),
        pinned("read_file", FILES), pinned("pets", PETS), tool_doc("plain_tool"),
    ]  # fmt: skip
    done = await client.post("/api/v1/tools/bulk", json={"tools": tools}, headers=keys.editor)
    assert done.status_code == 200, done.text


async def test_servers_are_listed_in_the_official_shape(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _load(client, keys)

    listed = await client.get("/v0.1/servers")

    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "*"
    body = listed.json()
    assert body["metadata"] == {"nextCursor": None, "count": 2}
    files, weather = body["servers"]
    assert files["server"]["name"] == "io.github.acme/files"
    assert files["server"]["packages"] == [{"registryType": "npm", "identifier": "@acme/files-mcp",
        "runtimeHint": "npx", "transport": {"type": "stdio"}}]  # fmt: skip
    assert weather["server"]["name"] == "local.toolcatalog/weather"
    assert weather["server"]["version"] == "2.1.0"
    assert weather["server"]["remotes"] == [
        {"type": "streamable-http", "url": "https://w.example/mcp"}
    ]
    assert weather["server"]["description"] == "2 tool(s): get_alerts, get_forecast"
    meta = weather["_meta"][OFFICIAL]
    assert (meta["status"], meta["isLatest"]) == ("active", True)
    assert meta["updatedAt"].endswith("Z")


async def test_search_paging_and_updated_since_filter_the_list(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _load(client, keys)

    first = (await client.get("/v0.1/servers", params={"limit": 1})).json()
    second = (
        await client.get(
            "/v0.1/servers", params={"limit": 1, "cursor": first["metadata"]["nextCursor"]}
        )
    ).json()
    searched = (await client.get("/v0.1/servers", params={"search": "WEATH"})).json()
    later = (
        await client.get("/v0.1/servers", params={"updated_since": "2999-01-01T00:00:00Z"})
    ).json()

    assert [s["server"]["name"] for s in first["servers"]] == ["io.github.acme/files"]
    assert [s["server"]["name"] for s in second["servers"]] == ["local.toolcatalog/weather"]
    assert second["metadata"]["nextCursor"] is None
    assert [s["server"]["name"] for s in searched["servers"]] == ["local.toolcatalog/weather"]
    assert later["servers"] == []
    assert_problem(await client.get("/v0.1/servers", params={"cursor": "%%%"}), 422)


async def test_a_server_version_is_found_by_its_encoded_name_or_latest(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _load(client, keys)

    latest = await client.get("/v0.1/servers/io.github.acme%2Ffiles/versions/latest")
    exact = await client.get("/v0.1/servers/local.toolcatalog%2Fweather/versions/2.1.0")
    versions = await client.get("/v0.1/servers/local.toolcatalog%2Fweather/versions")

    assert latest.json()["server"]["version"] == "0.3.0"
    assert exact.json()["server"]["name"] == "local.toolcatalog/weather"
    assert versions.json()["metadata"]["count"] == 1
    assert_problem(
        await client.get("/v0.1/servers/local.toolcatalog%2Fweather/versions/9.9.9"), 404
    )
    missing = await client.get("/v0.1/servers/nobody%2Fnothing/versions/latest")
    assert_problem(missing, 404)
    assert missing.headers["access-control-allow-origin"] == "*"  # a browser may read why


async def test_a_browser_preflight_is_answered_with_cors(client: httpx.AsyncClient) -> None:
    answer = await client.options(
        "/v0.1/servers",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )

    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "GET" in answer.headers["access-control-allow-methods"]
