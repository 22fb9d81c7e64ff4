"""Tool names against the route table: every word that is a fixed segment under
/api/v1/tools (or was reserved before) is a usable tool name unless a route really takes
the tool's paths; those few are refused alone, with a name to use instead."""

from __future__ import annotations

import re

import httpx
import pytest

from builders import tool_doc
from toolcatalog.model.tool import RESERVED_NAMES

from .support import ClientFactory, Keys, assert_problem

TOOLS = "/api/v1/tools"
# Reserved before: a public catalog (MetaTool) has a `search` tool.
FORMERLY_RESERVED = {
    "health", "metrics", "performance", "search", "platform", "category", "capabilities",
    "reload", "import", "export", "validate", "bulk", "select", "audit", "versions", "diff",
    "rollback", "enable", "disable", "keys", "openapi", "docs",
}  # fmt: skip


def _fixed_segments(paths: list[str]) -> set[str]:
    found = set()
    for path in paths:
        match = re.match(r"^(?:/native|/opsconductor)?/api/v1/tools/([a-z_]+)(?:/|$)", path)
        if match:
            found.add(match[1])
    return found


async def test_every_fixed_segment_is_a_working_tool_name_unless_reserved(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(opsconductor_api=False) as client:
        paths = list((await client.get("/openapi.json")).json()["paths"])
        candidates = (_fixed_segments(paths) | FORMERLY_RESERVED) - RESERVED_NAMES
        assert {"search", "import", "select", "reload", "performance"} <= candidates
        for name in sorted(candidates):
            created = await client.post(TOOLS, json=tool_doc(name), headers=keys.editor)
            assert created.status_code == 201, (name, created.text)
            for suffix in ("", "/versions", "/capabilities", "/audit"):
                response = await client.get(f"{TOOLS}/{name}{suffix}")
                assert response.status_code == 200, (name, suffix, response.text)
            assert (await client.get(f"{TOOLS}/{name}")).json()["name"] == name
            versions = (await client.get(f"{TOOLS}/{name}/versions")).json()
            assert versions, name
            seed = await client.get(f"/opsconductor/api/v1/tools/{name}")
            assert seed.status_code == 200, (name, seed.text)


async def test_each_reserved_name_is_a_fixed_segment_of_the_route_table(
    client: httpx.AsyncClient,
) -> None:
    paths = list((await client.get("/openapi.json")).json()["paths"])
    assert set(RESERVED_NAMES) <= _fixed_segments(paths)


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
async def test_a_reserved_name_is_refused_with_a_name_to_use_instead(
    client: httpx.AsyncClient, keys: Keys, name: str
) -> None:
    response = await client.post(TOOLS, json=tool_doc(name), headers=keys.editor)
    body = assert_problem(response, 422)
    assert [e["path"] for e in body["errors"]] == ["name"]
    assert f"such as '{name}_tool'" in body["errors"][0]["message"]
