"""Non-finite and astronomical numbers, and expressions that can never evaluate, are refused
with a 422 naming the JSON path at every door that writes a tool; nothing is stored."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import yaml

from builders import tool_doc

from .support import Keys, assert_problem, create

TOOLS = "/api/v1/tools"
ESTIMATE = "capabilities[0].patterns[0].profile.time_estimate_ms"
HOSTILE_ESTIMATES = ["1e999", "nan", "inf", "-inf", 1e300, "2**99999999", "1/0", "N / (2 - 2)"]


def _with_estimate(value: Any, name: str = "alpha_tool") -> dict[str, Any]:
    doc = tool_doc(name)
    pattern = doc["capabilities"][0]["patterns"][0]
    pattern["inputs"] = {"type": "object", "properties": {"N": {"type": "number"}}}
    pattern["profile"]["time_estimate_ms"] = value
    return doc


def _assert_refused_at(response: httpx.Response, path: str) -> dict[str, Any]:
    body = assert_problem(response, 422)
    assert any(e["path"].endswith(path) for e in body["errors"]), body
    return body


@pytest.mark.parametrize("value", HOSTILE_ESTIMATES)
async def test_post_refuses_an_estimate_that_is_not_a_finite_number(
    client: httpx.AsyncClient, keys: Keys, value: Any
) -> None:
    response = await client.post(TOOLS, json=_with_estimate(value), headers=keys.editor)
    _assert_refused_at(response, ESTIMATE)
    assert (await client.get(f"{TOOLS}/alpha_tool")).status_code == 404


async def test_the_refusal_says_what_is_allowed(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(TOOLS, json=_with_estimate("1e999"), headers=keys.editor)
    body = _assert_refused_at(response, ESTIMATE)
    assert "finite" in body["errors"][0]["message"]


async def test_bulk_refuses_a_non_finite_estimate_and_writes_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    tools = [tool_doc("beta_tool"), _with_estimate("nan")]
    response = await client.post(f"{TOOLS}/bulk", json={"tools": tools}, headers=keys.editor)
    assert_problem(response, 422)
    assert (await client.get(f"{TOOLS}/beta_tool")).status_code == 404


@pytest.mark.parametrize("value", ["1e999", "inf", 1e300, "2**99999999"])
async def test_merge_patch_refuses_a_non_finite_estimate(
    client: httpx.AsyncClient, keys: Keys, value: Any
) -> None:
    created = await create(client, keys, "alpha_tool")
    patched = copy.deepcopy(created.json()["capabilities"])
    patched[0]["patterns"][0]["profile"]["time_estimate_ms"] = value
    response = await client.patch(
        f"{TOOLS}/alpha_tool",
        json={"capabilities": patched},
        headers={**keys.editor, "If-Match": created.headers["etag"]},
    )
    _assert_refused_at(response, ESTIMATE)
    still = await client.get(f"{TOOLS}/alpha_tool")
    assert still.status_code == 200
    assert still.headers["etag"] == created.headers["etag"]


async def test_put_refuses_a_non_finite_estimate(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    response = await client.put(
        f"{TOOLS}/alpha_tool", json=_with_estimate("inf"), headers={**keys.editor, "If-Match": "*"}
    )
    _assert_refused_at(response, ESTIMATE)
    assert (await client.get(f"{TOOLS}/alpha_tool")).status_code == 200


@pytest.mark.parametrize("value", [".nan", ".inf", "'1e999'", "1e300"])
async def test_yaml_import_refuses_non_finite_estimates(
    client: httpx.AsyncClient, keys: Keys, value: str
) -> None:
    text = yaml.safe_dump(tool_doc("alpha_tool")).replace(
        "time_estimate_ms: 50", f"time_estimate_ms: {value}"
    )
    assert value in text
    response = await client.post(
        f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is False
    assert any(e["path"].endswith(ESTIMATE) for e in body["errors"]), body
    assert (await client.get(f"{TOOLS}/alpha_tool")).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_cost", 1e300), ("max_execution_time_ms", 10**30)],
)
async def test_policy_bounds_refuse_astronomical_numbers(
    client: httpx.AsyncClient, keys: Keys, field: str, value: float
) -> None:
    doc = tool_doc("alpha_tool")
    doc["capabilities"][0]["patterns"][0]["policy"] = {field: value}
    response = await client.post(TOOLS, json=doc, headers=keys.editor)
    _assert_refused_at(response, f"policy.{field}")


@pytest.mark.parametrize("value", [".nan", "-.inf", str(2**70)])
async def test_yaml_metadata_refuses_what_json_cannot_hold_naming_where(
    client: httpx.AsyncClient, keys: Keys, value: str
) -> None:
    doc = tool_doc("alpha_tool", metadata={"limits": {"sizes": [1, "HERE"]}})
    text = yaml.safe_dump(doc).replace("HERE", value)
    response = await client.post(
        f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor
    )
    body = response.json()
    assert body["success"] is False, body
    assert body["errors"][0]["path"] == "metadata.limits.sizes[1]", body


async def test_an_estimate_that_fails_at_the_declared_defaults_is_refused(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    doc = _with_estimate("100 / N")
    doc["capabilities"][0]["patterns"][0]["inputs"]["properties"]["N"]["default"] = 0
    response = await client.post(TOOLS, json=doc, headers=keys.editor)
    body = _assert_refused_at(response, "patterns[0]")
    assert "declared input defaults" in body["errors"][0]["message"]


async def test_an_expression_that_depends_on_a_request_input_is_still_accepted(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(TOOLS, json=_with_estimate("100 / N"), headers=keys.editor)
    assert response.status_code == 201, response.text
