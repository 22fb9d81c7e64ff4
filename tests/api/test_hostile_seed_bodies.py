"""The seed (OpsConductor) contract's writing doors refuse non-finite numbers and deep JSON
with a 4xx problem like ours, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from builders import tool_doc

from .support import Keys, assert_problem

SEED = "/opsconductor/api/v1/tools"


def _seed_tool(**pattern: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": "Count lines", "time_estimate_ms": 100}
    spec.update(pattern)
    return {
        "tool_name": "wc",
        "version": "1.0",
        "description": "Count lines, words and bytes",
        "platform": "linux",
        "category": "system",
        "capabilities": {
            "text_stats": {"description": "Text statistics", "patterns": {"count": spec}}
        },
    }


def _deep_text(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize("value", ["1e999", "nan", 1e300, "2**99999999"])
async def test_seed_create_refuses_a_non_finite_estimate(
    client: httpx.AsyncClient, keys: Keys, value: Any
) -> None:
    response = await client.post(SEED, json=_seed_tool(time_estimate_ms=value), headers=keys.editor)
    assert_problem(response, 422)


@pytest.mark.parametrize("depth", [300, 1000])
async def test_seed_create_and_update_refuse_deep_json(
    client: httpx.AsyncClient, keys: Keys, depth: int
) -> None:
    text = json.dumps(_seed_tool()).replace('"Count lines"', _deep_text(depth), 1)
    headers = {**keys.editor, "content-type": "application/json"}
    created = await client.post(SEED, content=text, headers=headers)
    assert 400 <= created.status_code < 500, created.text
    made = await client.post("/api/v1/tools", json=tool_doc("test_runner"), headers=keys.editor)
    assert made.status_code == 201, made.text
    update = '{"metadata": {"deep": ' + _deep_text(depth) + "}}"
    updated = await client.put(f"{SEED}/test_runner", content=update, headers=headers)
    assert 400 <= updated.status_code < 500, updated.text
