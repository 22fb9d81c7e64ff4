"""Names as a newcomer types them: a capability alias finds what its canonical name finds at
every door, and an unknown capability or tool is answered with the closest known names."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.service import Actor
from toolcatalog.runtime import Runtime

from .support import assert_problem

STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


async def _import_starter(runtime: Runtime) -> None:
    tools, vocabulary = starter_definitions()
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)


async def test_a_capability_alias_lists_the_same_tools_as_its_canonical_name(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)

    async def names(path: str) -> list[str]:
        response = await client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        return [item["name"] for item in body.get("items", body.get("tools", []))]

    canonical = await names("/api/v1/tools?capability=disk_usage")
    assert "df" in canonical
    assert await names("/api/v1/tools?capability=disk_monitoring") == canonical
    assert await names("/api/v1/capabilities/disk_monitoring/tools") == canonical
    by_alias = (await client.get("/api/v1/capabilities/disk_monitoring/tools")).json()
    assert by_alias["capability"] == "disk_usage"


async def test_an_unknown_capability_is_a_422_naming_the_closest(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    for path in ("/api/v1/tools?capability=disk_usge", "/api/v1/capabilities/disk_usge/tools"):
        body = assert_problem(await client.get(path), 422)
        assert "unknown capability 'disk_usge'" in body["detail"]
        assert "disk_usage" in body["detail"]


async def test_an_unknown_tool_is_a_404_naming_the_closest_tools(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    body = assert_problem(await client.get("/api/v1/tools/dff"), 404)
    assert "no tool named 'dff'" in body["detail"]
    assert "did you mean df" in body["detail"]
