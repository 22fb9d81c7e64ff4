"""HTTP as RFC 9110 has it: strong If-Match, a complete Allow on 405, unknown methods and
unexpected errors answered as problems carrying the request id, and an OpenAPI document
whose security declarations match what the server enforces."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from toolcatalog.api.app import create_app
from toolcatalog.runtime import Runtime

from .support import BASE, ClientFactory, Keys, assert_problem, create

TOOLS = "/api/v1/tools"


async def test_a_weak_etag_never_satisfies_if_match(client: httpx.AsyncClient, keys: Keys) -> None:
    etag = (await create(client, keys, "alpha_tool")).headers["etag"]
    for if_match in (f"W/{etag}", f'"other", W/{etag}'):
        response = await client.patch(
            f"{TOOLS}/alpha_tool",
            json={"owner": "sre"},
            headers={**keys.editor, "If-Match": if_match},
        )
        assert_problem(response, 412)
    strong = await client.patch(
        f"{TOOLS}/alpha_tool", json={"owner": "sre"}, headers={**keys.editor, "If-Match": etag}
    )
    assert strong.status_code == 200, strong.text


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/keys", "GET, POST"),
        ("POST", f"{TOOLS}/alpha_tool", "DELETE, GET, PATCH, PUT"),
        ("DELETE", TOOLS, "GET, POST"),
    ],
)
async def test_405_lists_every_method_the_path_takes(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 405)
    assert response.headers["allow"] == allowed


async def test_an_unknown_method_is_a_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.request("FROB", TOOLS)
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


async def test_an_unexpected_error_carries_the_request_id_in_body_and_header(
    runtime: Runtime,
) -> None:
    app = create_app(runtime)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        given = await client.get("/boom", headers={"X-Request-ID": "trace-me-42"})
        made = await client.get("/boom")
    body = assert_problem(given, 500)
    assert (body["request_id"], given.headers["x-request-id"]) == ("trace-me-42", "trace-me-42")
    assert "a bug" not in given.text
    made_id = made.headers["x-request-id"]
    assert made_id not in ("", "-")
    assert assert_problem(made, 500)["request_id"] == made_id


def _security(spec: dict[str, Any], method: str, path: str) -> list[dict[str, Any]]:
    requirements: list[dict[str, Any]] = spec["paths"][path][method]["security"]
    return requirements


async def test_openapi_declares_reads_open_and_writes_keyed(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {} in _security(spec, "get", f"{TOOLS}/{{name}}")
    assert {} in _security(spec, "post", "/api/v1/select")
    assert {} not in _security(spec, "put", f"{TOOLS}/{{name}}")
    assert {} not in _security(spec, "get", "/api/v1/keys")
    assert "x-open-read" not in spec["paths"][f"{TOOLS}/{{name}}"]["get"]


async def test_openapi_declares_reads_keyed_when_auth_is_required(
    make_client: ClientFactory,
) -> None:
    async with make_client(auth="required") as client:
        spec = (await client.get("/openapi.json")).json()
    assert {} not in _security(spec, "get", f"{TOOLS}/{{name}}")
