"""Errors are problem+json with the right status, never a 500 for bad input, never a trace;
request ids; and fixed path segments win over tool names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from builders import make_settings, tool_doc
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import Role
from toolcatalog.runtime import open_runtime

from .support import ClientFactory, Keys, assert_problem, client_for, create, write_with_etag

TOOLS = "/api/v1/tools"


async def test_malformed_json_is_400(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = {**keys.editor, "Content-Type": "application/json"}
    for body in (b"{", b'{"name": }', b"NaN", b'"\\ud800"', b"[" * 5000 + b"]" * 5000):
        response = await client.post(TOOLS, content=body, headers=headers)
        problem = assert_problem(response, 400)
        assert problem["title"] == "Malformed JSON"


async def test_a_body_over_the_limit_is_413_with_or_without_content_length(
    make_client: ClientFactory, keys: Keys
) -> None:
    big = b'{"name": "' + b"x" * 4096 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async with make_client(max_body_bytes=1024) as client:
        headers = {**keys.editor, "Content-Type": "application/json"}
        assert_problem(await client.post(TOOLS, content=big, headers=headers), 413)
        assert_problem(await client.post(TOOLS, content=chunks(), headers=headers), 413)


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient, keys: Keys) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            TOOLS, content=b"name=x", headers={**keys.editor, "Content-Type": ctype}
        )
        assert_problem(response, 415)


async def test_unknown_routes_and_methods(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing"), 404)
    response = await client.post("/api/v1/audit")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_strange_characters_are_refused_not_crashed_on(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    patch = await write_with_etag(
        client, "PATCH", f"{TOOLS}/alpha_tool", {"description": "nul \x00 byte"}, keys.editor
    )
    assert_problem(patch, 422)
    created = await client.post(
        TOOLS, json=tool_doc("beta_tool", metadata={"k": "\x00"}), headers=keys.editor
    )
    assert_problem(created, 422)
    for path in (f"{TOOLS}/%00", f"{TOOLS}/%F0%9F%92%A9", f"{TOOLS}/{'x' * 300}", f"{TOOLS}/A"):
        response = await client.get(path)
        assert_problem(response, 422)


async def test_the_request_id_is_honoured_or_made_and_echoed(
    client: httpx.AsyncClient,
) -> None:
    given = await client.get(f"{TOOLS}/ghost", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    assert given.json()["request_id"] == "abc-123"
    made = await client.get(f"{TOOLS}/ghost", headers={"X-Request-ID": "bad id\twith junk"})
    made_id = made.headers["x-request-id"]
    assert made_id
    assert made_id != "bad id\twith junk"
    assert made.json()["request_id"] == made_id


async def test_writes_answer_503_while_the_database_is_unreachable(
    fresh_db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fresh_db_url, tmp_path)
    async with open_runtime(settings, listen=False) as runtime:
        editor = await runtime.keys.create("editor", Role.editor)
        async with client_for(runtime) as client:
            headers = {"Authorization": f"Bearer {editor.secret}"}
            created = await client.post(TOOLS, json=tool_doc("alpha_tool"), headers=headers)
            assert created.status_code == 201
            await client.get(f"{TOOLS}/alpha_tool")  # now cached
            await runtime.db.close()
            refused = await client.post(TOOLS, json=tool_doc("beta_tool"), headers=headers)
            problem = assert_problem(refused, 503)
            assert refused.headers["retry-after"]
            assert "database" in problem["title"].lower()
            assert_problem(await client.get("/api/v1/audit"), 503)
            cached = await client.get(f"{TOOLS}/alpha_tool")
            assert cached.status_code == 200
            assert cached.json()["name"] == "alpha_tool"
            health = await client.get(f"{TOOLS}/health")
            assert (health.status_code, health.json()["status"]) == (200, "degraded")


async def test_fixed_segments_are_registered_before_tool_names(
    client: httpx.AsyncClient,
) -> None:
    paths = list(create_app(None).openapi()["paths"])
    tools = [p for p in paths if p.startswith(f"{TOOLS}/")]
    first_by_name = min(i for i, p in enumerate(tools) if p.startswith(f"{TOOLS}/{{name}}"))
    fixed = [p for p in tools if not p.startswith(f"{TOOLS}/{{")]
    assert fixed, "no fixed segments found"
    late = [p for p in fixed if tools.index(p) > first_by_name]
    assert late == [], f"registered after /{{name}} routes, so unreachable: {late}"
    health = await client.get(f"{TOOLS}/health")
    assert health.status_code == 200
    assert health.json()["llm_tie_break"] == "off"  # no TOOLCATALOG_LLM_URL in the tests
