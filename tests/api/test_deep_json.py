"""JSON nested up to the parser's limit (1,024 levels) is refused with a 4xx problem at every
route that takes free-form JSON, never a 500 (orjson writes at most 254 levels, and Python
recursion stops near 1,000)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from builders import tool_doc

from .support import Keys, assert_problem, create

TOOLS = "/api/v1/tools"
DEPTHS = [40, 253, 254, 255, 600, 1000, 1020]


def _nested(depth: int) -> str:
    """JSON text nested `depth` levels (lists and objects in turn); built as text, since
    Python's json and orjson cannot write it."""
    opening = "".join('{"k": ' if i % 2 else "[" for i in range(depth))
    return opening + "1" + "".join("}" if i % 2 else "]" for i in reversed(range(depth)))


async def _send(
    client: httpx.AsyncClient, method: str, url: str, doc: Any, depth: int, keys: Keys
) -> httpx.Response:
    text = json.dumps(doc).replace('"DEEP"', _nested(depth))
    headers = {**keys.editor, "content-type": "application/json", "If-Match": "*"}
    return await client.request(method, url, content=text, headers=headers)


@pytest.mark.parametrize("depth", DEPTHS)
async def test_deep_metadata_is_refused_on_create_replace_and_bulk(
    client: httpx.AsyncClient, keys: Keys, depth: int
) -> None:
    doc = tool_doc("alpha_tool", metadata={"deep": "DEEP"})
    body = assert_problem(await _send(client, "POST", TOOLS, doc, depth, keys), 422)
    assert body["errors"][0]["path"].startswith("metadata.deep")
    assert "levels deep" in body["errors"][0]["message"]
    bulk = await _send(client, "POST", f"{TOOLS}/bulk", {"tools": [doc]}, depth, keys)
    assert_problem(bulk, 422)
    await create(client, keys, "beta_tool")
    doc["name"] = "beta_tool"
    assert_problem(await _send(client, "PUT", f"{TOOLS}/beta_tool", doc, depth, keys), 422)


@pytest.mark.parametrize("depth", DEPTHS)
async def test_deep_merge_patch_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, keys: Keys, depth: int
) -> None:
    created = await create(client, keys, "alpha_tool")
    patch = {"metadata": {"deep": "DEEP"}}
    response = await _send(client, "PATCH", f"{TOOLS}/alpha_tool", patch, depth, keys)
    assert_problem(response, 422)
    after = await client.get(f"{TOOLS}/alpha_tool")
    assert after.headers["etag"] == created.headers["etag"]


@pytest.mark.parametrize("depth", [300, 1020])
async def test_validating_a_deep_definition_answers_invalid(
    client: httpx.AsyncClient, keys: Keys, depth: int
) -> None:
    doc = tool_doc("alpha_tool", metadata={"deep": "DEEP"})
    response = await _send(client, "POST", f"{TOOLS}/validate", doc, depth, keys)
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False


async def test_json_deeper_than_the_parser_takes_is_malformed(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    text = '{"metadata": ' + "[" * 2000 + "]" * 2000 + "}"
    response = await client.post(
        TOOLS, content=text, headers={**keys.editor, "content-type": "application/json"}
    )
    assert_problem(response, 400)
