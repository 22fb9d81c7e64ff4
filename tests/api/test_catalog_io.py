"""Bulk writes, YAML import/export, validation, search and the seed platform's listing paths."""

from __future__ import annotations

import httpx
import yaml

from builders import tool_doc
from toolcatalog.formats.dump import dump_yaml

from .support import Keys, assert_problem, create

TOOLS = "/api/v1/tools"


async def test_bulk_creates_updates_and_is_idempotent(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    body = {"tools": [tool_doc("alpha_tool", owner="x"), tool_doc("beta_tool")]}
    first = await client.post(f"{TOOLS}/bulk", json=body, headers=keys.editor)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["created"], report["updated"], report["dry_run"]) == (
        ["beta_tool"],
        ["alpha_tool"],
        False,
    )
    assert report["generation"] is not None
    again = (await client.post(f"{TOOLS}/bulk", json=body, headers=keys.editor)).json()
    assert sorted(again["unchanged"]) == ["alpha_tool", "beta_tool"]
    trail = (await client.get("/api/v1/audit?tool=beta_tool")).json()["items"]
    assert [e["action"] for e in trail] == ["import"]


async def test_bulk_dry_run_writes_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"tools": [tool_doc("alpha_tool")], "dry_run": True}
    report = (await client.post(f"{TOOLS}/bulk", json=body, headers=keys.editor)).json()
    assert (report["created"], report["dry_run"], report["generation"]) == (
        ["alpha_tool"],
        True,
        None,
    )
    assert_problem(await client.get(f"{TOOLS}/alpha_tool"), 404)


async def test_bulk_is_all_or_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"tools": [tool_doc("alpha_tool"), tool_doc("beta_tool", platform="plan9")]}
    problem = assert_problem(
        await client.post(f"{TOOLS}/bulk", json=body, headers=keys.editor), 422
    )
    assert problem["errors"][0]["path"] == "tools[1].platform"
    twice = {"tools": [tool_doc("alpha_tool"), tool_doc("alpha_tool")]}
    assert_problem(await client.post(f"{TOOLS}/bulk", json=twice, headers=keys.editor), 422)
    assert (await client.get(TOOLS)).json()["total"] == 0


async def test_import_takes_many_tools_in_one_document(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    text = dump_yaml([tool_doc("alpha_tool"), tool_doc("beta_tool")])
    response = await client.post(
        f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor
    )
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "imported_count": 2,
        "failed_count": 0,
        "errors": [],
        "warnings": [],
    }
    assert (await client.get(TOOLS)).json()["total"] == 2


async def test_import_without_overwrite_skips_existing_tools(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    text = dump_yaml({"tools": [tool_doc("alpha_tool", owner="x"), tool_doc("beta_tool")]})
    body = (
        await client.post(f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor)
    ).json()
    assert (body["success"], body["imported_count"]) == (True, 1)
    assert body["warnings"] == ["alpha_tool: exists; skipped (send overwrite: true to replace it)"]
    overwrite = {"yaml_content": text, "overwrite": True}
    body = (await client.post(f"{TOOLS}/import", json=overwrite, headers=keys.editor)).json()
    assert body["imported_count"] == 2
    assert (await client.get(f"{TOOLS}/alpha_tool")).json()["owner"] == "x"


async def test_import_with_an_invalid_tool_imports_nothing_and_says_where(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    text = dump_yaml([tool_doc("alpha_tool"), tool_doc("beta_tool", platform="plan9")])
    body = (
        await client.post(f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor)
    ).json()
    assert (body["success"], body["imported_count"], body["failed_count"]) == (False, 0, 1)
    [error] = body["errors"]
    assert (error["tool"], error["path"]) == ("beta_tool", "[1].platform")
    assert error["line"] is not None
    assert (await client.get(TOOLS)).json()["total"] == 0


async def test_import_validate_only_writes_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    text = dump_yaml(tool_doc("alpha_tool"))
    body = (
        await client.post(
            f"{TOOLS}/import",
            json={"yaml_content": text, "validate_only": True},
            headers=keys.editor,
        )
    ).json()
    assert (body["success"], body["imported_count"]) == (True, 0)
    assert "would create 1" in body["warnings"][0]
    assert_problem(await client.get(f"{TOOLS}/alpha_tool"), 404)


async def test_import_refuses_broken_or_hostile_yaml_with_400(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    hostile = {
        "syntax": "name: [unclosed\n",
        "aliases": "a: &x [1, 2]\nb: *x\n",
        "laughs": "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
        "deep flow": "[" * 100_000 + "]" * 100_000,
        "deep block": "- " * 200_000 + "x\n",
        "binary": "name: !!binary aGVsbG8=\n",
    }
    for label, text in hostile.items():
        response = await client.post(
            f"{TOOLS}/import", json={"yaml_content": text}, headers=keys.editor
        )
        body = assert_problem(response, 400)
        assert body["errors"], label
    syntax = await client.post(
        f"{TOOLS}/import", json={"yaml_content": hostile["syntax"]}, headers=keys.editor
    )
    assert syntax.json()["errors"][0]["line"] == 2


async def test_import_of_nothing_is_a_failure(client: httpx.AsyncClient, keys: Keys) -> None:
    body = (
        await client.post(f"{TOOLS}/import", json={"yaml_content": ""}, headers=keys.editor)
    ).json()
    assert body["success"] is False
    assert body["failed_count"] == 1


async def test_export_round_trips_through_import(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool", owner="sre")
    await create(client, keys, "beta_tool")
    everything = (await client.post(f"{TOOLS}/export", json=[])).json()
    assert (everything["success"], everything["tool_count"]) == (True, 2)
    assert [t["name"] for t in yaml.safe_load(everything["yaml_content"])] == [
        "alpha_tool",
        "beta_tool",
    ]
    no_body = (await client.post(f"{TOOLS}/export")).json()
    assert no_body["tool_count"] == 2
    some = (await client.post(f"{TOOLS}/export", json=["beta_tool", "ghost"])).json()
    assert (some["success"], some["tool_count"], some["not_found"]) == (False, 1, ["ghost"])
    back = {"yaml_content": everything["yaml_content"], "overwrite": True}
    body = (await client.post(f"{TOOLS}/import", json=back, headers=keys.editor)).json()
    assert body["imported_count"] == 2
    trail = (await client.get("/api/v1/audit?action=import")).json()["items"]
    assert trail == []  # identical definitions: nothing written
    assert_problem(await client.post(f"{TOOLS}/export", json={"names": []}), 422)


async def test_validate_answers_valid_invalid_and_warnings(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    valid = (await client.post(f"{TOOLS}/validate", json=tool_doc("alpha_tool"))).json()
    assert (valid["valid"], valid["errors"]) == (True, [])
    no_examples = (
        await client.post(f"{TOOLS}/validate", json=tool_doc("alpha_tool", examples=[]))
    ).json()
    assert no_examples["warnings"][0].startswith("examples:")
    await create(client, keys, "alpha_tool")
    existing = (await client.post(f"{TOOLS}/validate", json=tool_doc("alpha_tool"))).json()
    assert "exact definition" in existing["warnings"][-1]
    invalid = (await client.post(f"{TOOLS}/validate", json={"name": "x"})).json()
    assert invalid["valid"] is False
    assert {"platform", "description", "category", "capabilities", "name"} <= {
        p["path"] for p in invalid["problems"]
    }
    assert all(": " in e for e in invalid["errors"])
    not_an_object = (await client.post(f"{TOOLS}/validate", json=[1, 2])).json()
    assert not_an_object["valid"] is False


async def test_search_is_ranked_paged_and_restricted_by_fields(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool", description="Measure network latency.")
    await create(client, keys, "beta_tool", description="Ping hosts.", tags=["network"])
    await create(client, keys, "network_scan", description="Scan ports; network map.")
    body = (await client.get(f"{TOOLS}/search/query?q=network&limit=2")).json()
    assert body["query"] == "network"
    assert body["total"] == 3
    assert len(body["results"]) == 2
    assert body["results"][0]["name"] == "network_scan"
    rest = (
        await client.get(f"{TOOLS}/search/query?q=network&limit=2&cursor={body['next_cursor']}")
    ).json()
    assert len(rest["results"]) == 1
    assert rest["next_cursor"] is None
    by_name = (await client.get(f"{TOOLS}/search/query?q=network&fields=tool_name")).json()
    assert [r["name"] for r in by_name["results"]] == ["network_scan"]
    assert by_name["fields"] == ["tool_name"]
    by_tags = (await client.get(f"{TOOLS}/search/query?q=network&fields=tags")).json()
    assert [r["name"] for r in by_tags["results"]] == ["beta_tool"]
    two = "fields=description&fields=capabilities"
    both = (await client.get(f"{TOOLS}/search/query?q=network&{two}")).json()
    assert sorted(r["name"] for r in both["results"]) == ["alpha_tool", "network_scan"]
    assert_problem(await client.get(f"{TOOLS}/search/query"), 422)
    assert_problem(await client.get(f"{TOOLS}/search/query?q=x&fields=owner"), 422)


async def test_tools_by_platform_and_category(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool", platform="windows")
    await create(client, keys, "beta_tool", category="network")
    windows = (await client.get(f"{TOOLS}/platform/windows")).json()
    assert (windows["platform"], windows["total"]) == ("windows", 1)
    assert windows["tools"][0]["name"] == "alpha_tool"
    unknown = (await client.get(f"{TOOLS}/platform/scheduler")).json()
    assert unknown["tools"] == []
    network = (await client.get(f"{TOOLS}/category/network?limit=1")).json()
    assert [t["name"] for t in network["tools"]] == ["beta_tool"]
    assert network["next_cursor"] is None


async def test_capabilities_index_and_the_tools_per_capability(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    doc = tool_doc("beta_tool")
    doc["capabilities"].append(
        {**doc["capabilities"][0], "name": "disk_usage", "description": "Disk."}
    )
    assert (await client.post(TOOLS, json=doc, headers=keys.editor)).status_code == 201
    index = (await client.get("/api/v1/capabilities")).json()
    assert index == {
        "capabilities": [
            {"capability_name": "disk_usage", "tool_count": 1, "tools": ["beta_tool"]},
            {
                "capability_name": "process_list",
                "tool_count": 2,
                "tools": ["alpha_tool", "beta_tool"],
            },
        ],
        "total": 2,
    }
    assert (await client.get(f"{TOOLS}/capabilities/list")).json() == index["capabilities"]
    for url in ("/api/v1/capabilities", f"{TOOLS}/capabilities"):
        per = (await client.get(f"{url}/process_list/tools")).json()
        assert (per["capability"], per["total"]) == ("process_list", 2)
        assert [t["name"] for t in per["tools"]] == ["alpha_tool", "beta_tool"]
    unknown = await client.get("/api/v1/capabilities/teleport/tools")
    assert unknown.status_code == 422
    assert "teleport" in unknown.json()["detail"]
