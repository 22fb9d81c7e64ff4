"""POST /api/v1/tools/import/mcp and /import/openapi: editors import a live MCP server (over
Streamable HTTP) or an OpenAPI spec; drift is listed and held unless the editor accepts it."""

from __future__ import annotations

import httpx
import yaml

from upstream_servers import PETSTORE, WEATHER, free_port, weather_http_server

from .support import Keys, assert_problem

IMPORT = "/api/v1/tools/import"


async def test_an_editor_imports_an_mcp_server_and_approves_its_drift(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    with weather_http_server(variant=1) as url:
        first = await client.post(f"{IMPORT}/mcp", json={"url": url}, headers=keys.editor)
    with weather_http_server(variant=2) as url:
        held = await client.post(f"{IMPORT}/mcp", json={"url": url}, headers=keys.editor)
        approved = await client.post(
            f"{IMPORT}/mcp", json={"url": url, "accept_drift": ["get_forecast"]},
            headers=keys.editor,
        )  # fmt: skip

    assert first.status_code == 200, first.text
    assert sorted(first.json()["created"]) == sorted(WEATHER)
    assert first.json()["source"]["transport"] == "streamable-http"
    assert held.json()["success"] is False
    assert [d["name"] for d in held.json()["drifted"]] == ["get_forecast"]
    assert approved.json()["success"] is True
    assert approved.json()["updated"] == ["get_forecast"]


async def test_a_reader_cannot_import_and_stdio_is_refused(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {"url": "stdio:python server.py"}
    assert_problem(await client.post(f"{IMPORT}/mcp", json=body, headers=keys.editor), 422)
    reader = await client.post(f"{IMPORT}/mcp", json={"url": "http://x/mcp"}, headers=keys.reader)
    assert_problem(reader, 403)


async def test_an_inline_openapi_spec_imports_per_tag(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    spec = yaml.safe_load(PETSTORE.read_text())

    done = await client.post(
        f"{IMPORT}/openapi", json={"spec": spec, "per_tag": True}, headers=keys.editor
    )

    assert done.status_code == 200, done.text
    assert len(done.json()["created"]) == 3
    listed = await client.get("/api/v1/tools/swagger_petstore_pet", headers=keys.reader)
    assert listed.json()["metadata"]["upstream"]["kind"] == "openapi"


async def test_an_unreachable_url_is_a_502(client: httpx.AsyncClient, keys: Keys) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    assert_problem(await client.post(f"{IMPORT}/mcp", json={"url": url}, headers=keys.editor), 502)
