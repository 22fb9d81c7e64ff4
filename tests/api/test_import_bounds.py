"""One editor's import cannot tie up a replica: tool counts, reported problems and bodies are
bounded, and each refusal names its limit and the setting that moves it."""

from __future__ import annotations

import httpx

from builders import tool_doc

from .support import ClientFactory, Keys, assert_problem

TOOLS = "/api/v1/tools"


async def test_an_import_of_more_tools_than_the_limit_is_refused_before_validation(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {"yaml_content": "- {}\n" * 10_001}
    response = await client.post(f"{TOOLS}/import", json=body, headers=keys.editor)
    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/too_many_tools")
    assert "10001 tools" in problem["detail"]
    assert "TOOLCATALOG_IMPORT_MAX_TOOLS" in problem["detail"]
    assert len(response.content) < 2_000


async def test_an_import_of_many_invalid_tools_lists_a_bounded_number_of_problems(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {"yaml_content": "- {}\n" * 500}
    response = await client.post(f"{TOOLS}/import", json=body, headers=keys.editor)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["success"] is False
    assert report["failed_count"] == 500
    assert len(report["errors"]) == 100
    assert any("more problems not listed" in w for w in report["warnings"])


async def test_bulk_past_the_configured_limit_is_refused_naming_the_setting(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(import_max_tools=2) as client:
        tools = [tool_doc(f"tool_{i}") for i in range(3)]
        response = await client.post(f"{TOOLS}/bulk", json={"tools": tools}, headers=keys.editor)
        problem = assert_problem(response, 422)
        assert "at most 2" in problem["detail"]
        assert "TOOLCATALOG_IMPORT_MAX_TOOLS" in problem["detail"]
        assert (await client.get(f"{TOOLS}/tool_0")).status_code == 404
        fits = await client.post(f"{TOOLS}/bulk", json={"tools": tools[:2]}, headers=keys.editor)
        assert fits.status_code == 200, fits.text


async def test_a_bulk_body_of_many_invalid_tools_lists_a_bounded_number_of_problems(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(f"{TOOLS}/bulk", json={"tools": [{}] * 2_000}, headers=keys.editor)
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == 100
    assert "the first 100 listed" in problem["detail"]


async def test_a_body_over_the_limit_is_refused_with_413_naming_the_setting(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {"yaml_content": "#" * 1_100_000}
    response = await client.post(f"{TOOLS}/import", json=body, headers=keys.editor)
    problem = assert_problem(response, 413)
    assert "TOOLCATALOG_MAX_BODY_BYTES" in problem["detail"]
