"""/api/v1/tools and /api/v1/tools/{name}: every route's happy path and its error statuses,
against the real app and database."""

from __future__ import annotations

import httpx

from builders import tool_doc

from .support import ClientFactory, Keys, assert_problem, create, write_with_etag

TOOLS = "/api/v1/tools"


async def test_health_reports_the_database_and_the_cache(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{TOOLS}/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["service"], body["database"]) == (
        "healthy",
        "Tool Catalog API",
        "connected",
    )
    assert body["tool_count"] == 0
    assert {"size", "max_size", "hits", "misses", "hit_rate_percent"} <= set(body["cache"])
    assert body["semantic_retrieval"] == "off"  # the tests' settings: lexical selection


async def test_create_answers_201_with_location_etag_and_the_stored_definition(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await create(client, keys, "alpha_tool")
    assert response.headers["location"] == f"{TOOLS}/alpha_tool"
    assert response.headers["etag"].startswith('"1-')
    body = response.json()
    assert body["name"] == "alpha_tool"
    assert body["status"] == "active"  # defaults are filled in


async def test_create_refuses_an_existing_name_with_409(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    again = await client.post(TOOLS, json=tool_doc("alpha_tool"), headers=keys.editor)
    assert_problem(again, 409)


async def test_create_refuses_a_reserved_name_with_the_path_of_the_problem(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(TOOLS, json=tool_doc("health"), headers=keys.editor)
    body = assert_problem(response, 422)
    assert [e["path"] for e in body["errors"]] == ["name"]


async def test_invalid_definitions_name_each_problem_by_json_path(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    doc = tool_doc("alpha_tool", platform="plan9")
    doc["capabilities"][0]["patterns"][0]["profile"]["accuracy"] = 7
    response = await client.post(TOOLS, json=doc, headers=keys.editor)
    body = assert_problem(response, 422)
    paths = {e["path"] for e in body["errors"]}
    assert paths == {"platform", "capabilities[0].patterns[0].profile.accuracy"}


async def test_get_serves_the_definition_with_etag_and_304_when_unchanged(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await create(client, keys, "alpha_tool")
    etag = created.headers["etag"]
    response = await client.get(f"{TOOLS}/alpha_tool")
    assert response.status_code == 200
    assert response.headers["etag"] == etag
    assert response.json() == created.json()
    unchanged = await client.get(f"{TOOLS}/alpha_tool", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    other = await client.get(f"{TOOLS}/alpha_tool", headers={"If-None-Match": '"0-x"'})
    assert other.status_code == 200


async def test_get_of_an_unknown_tool_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{TOOLS}/no_such_tool"), 404)


async def test_put_replaces_and_returns_a_new_etag(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys, "alpha_tool")
    doc = tool_doc("alpha_tool", description="Replaced.")
    response = await client.put(
        f"{TOOLS}/alpha_tool",
        json=doc,
        headers={**keys.editor, "If-Match": created.headers["etag"]},
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Replaced."
    assert response.headers["etag"].startswith('"2-')
    fetched = await client.get(f"{TOOLS}/alpha_tool")
    assert fetched.headers["etag"] == response.headers["etag"]


async def test_put_with_a_stale_etag_is_412_and_changes_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await create(client, keys, "alpha_tool")
    stale = created.headers["etag"]
    first = await client.put(
        f"{TOOLS}/alpha_tool",
        json=tool_doc("alpha_tool", description="First."),
        headers={**keys.editor, "If-Match": stale},
    )
    assert first.status_code == 200
    second = await client.put(
        f"{TOOLS}/alpha_tool",
        json=tool_doc("alpha_tool", description="Second."),
        headers={**keys.editor, "If-Match": stale},
    )
    assert_problem(second, 412)
    current = await client.get(f"{TOOLS}/alpha_tool")
    assert current.json()["description"] == "First."
    versions = await client.get(f"{TOOLS}/alpha_tool/versions")
    assert versions.json()["total_versions"] == 2


async def test_put_of_an_unknown_tool_is_404(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.put(
        f"{TOOLS}/ghost_tool", json=tool_doc("ghost_tool"), headers={**keys.editor, "If-Match": "*"}
    )
    assert_problem(response, 404)


async def test_put_cannot_rename(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    response = await write_with_etag(
        client, "PUT", f"{TOOLS}/alpha_tool", tool_doc("beta_tool"), keys.editor
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["path"] == "name"


async def test_put_and_patch_without_if_match_are_refused_with_428_by_default(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await create(client, keys, "alpha_tool")
    doc = tool_doc("alpha_tool", description="Changed.")
    refused = await client.put(f"{TOOLS}/alpha_tool", json=doc, headers=keys.editor)
    body = assert_problem(refused, 428)
    assert "If-Match" in body["detail"]
    assert "TOOLCATALOG_REQUIRE_IF_MATCH=false" in body["detail"]
    patch = await client.patch(f"{TOOLS}/alpha_tool", json={"owner": "x"}, headers=keys.editor)
    assert_problem(patch, 428)
    assert (await client.get(f"{TOOLS}/alpha_tool")).headers["etag"] == created.headers["etag"]
    etag = created.headers["etag"]
    allowed = await client.put(
        f"{TOOLS}/alpha_tool", json=doc, headers={**keys.editor, "If-Match": etag}
    )
    assert allowed.status_code == 200
    anything = await client.patch(
        f"{TOOLS}/alpha_tool", json={"owner": "y"}, headers={**keys.editor, "If-Match": "*"}
    )
    assert anything.status_code == 200
    # Setting one state needs no ETag: there is nothing to lose.
    disabled = await client.patch(f"{TOOLS}/alpha_tool/disable", headers=keys.editor)
    assert disabled.status_code == 200


async def test_writes_without_if_match_are_accepted_when_the_setting_is_off(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(require_if_match=False) as client:
        await create(client, keys, "alpha_tool")
        doc = tool_doc("alpha_tool", description="Changed.")
        put = await client.put(f"{TOOLS}/alpha_tool", json=doc, headers=keys.editor)
        assert put.status_code == 200
        patch = await client.patch(f"{TOOLS}/alpha_tool", json={"owner": "x"}, headers=keys.editor)
        assert patch.status_code == 200


async def test_patch_merges_and_null_removes(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys, "alpha_tool", owner="sre", metadata={"a": 1, "b": 2})
    response = await client.patch(
        f"{TOOLS}/alpha_tool",
        content=b'{"owner": null, "metadata": {"b": null, "c": 3}, "tags": ["x"]}',
        headers={
            **keys.editor,
            "Content-Type": "application/merge-patch+json",
            "If-Match": created.headers["etag"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["owner"] is None
    assert body["metadata"] == {"a": 1, "c": 3}
    assert body["tags"] == ["x"]


async def test_patch_revalidates_the_result(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    response = await write_with_etag(
        client, "PATCH", f"{TOOLS}/alpha_tool", {"platform": "plan9"}, keys.editor
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["path"] == "platform"


async def test_patch_with_a_stale_etag_is_412(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys, "alpha_tool")
    await write_with_etag(client, "PATCH", f"{TOOLS}/alpha_tool", {"owner": "a"}, keys.editor)
    response = await client.patch(
        f"{TOOLS}/alpha_tool",
        json={"owner": "b"},
        headers={**keys.editor, "If-Match": created.headers["etag"]},
    )
    assert_problem(response, 412)


async def test_patch_that_changes_nothing_records_no_version(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await create(client, keys, "alpha_tool")
    response = await write_with_etag(
        client, "PATCH", f"{TOOLS}/alpha_tool", {"version": "1.0.0"}, keys.editor
    )
    assert response.headers["etag"] == created.headers["etag"]


async def test_soft_delete_disables_the_tool_and_keeps_it(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    response = await client.delete(f"{TOOLS}/alpha_tool", headers=keys.editor)
    assert response.status_code == 204
    assert response.headers["etag"].startswith('"2-')
    body = (await client.get(f"{TOOLS}/alpha_tool")).json()
    assert (body["status"], body["enabled"]) == ("disabled", False)


async def test_purge_needs_an_admin_and_removes_the_tool(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    refused = await client.delete(f"{TOOLS}/alpha_tool?purge=true", headers=keys.editor)
    assert_problem(refused, 403)
    response = await client.delete(f"{TOOLS}/alpha_tool?purge=true", headers=keys.admin)
    assert response.status_code == 204
    assert_problem(await client.get(f"{TOOLS}/alpha_tool"), 404)
    assert_problem(await client.delete(f"{TOOLS}/alpha_tool", headers=keys.admin), 404)


async def test_enable_and_disable_toggle_enabled(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    disabled = await client.patch(f"{TOOLS}/alpha_tool/disable", headers=keys.editor)
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    enabled = await client.patch(f"{TOOLS}/alpha_tool/enable", headers=keys.editor)
    assert enabled.json()["enabled"] is True
    assert enabled.headers["etag"].startswith('"3-')
    assert_problem(await client.patch(f"{TOOLS}/ghost_tool/enable", headers=keys.editor), 404)


async def test_a_tools_capabilities(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    response = await client.get(f"{TOOLS}/alpha_tool/capabilities")
    assert response.status_code == 200
    body = response.json()
    assert body["tool_name"] == "alpha_tool"
    assert [c["name"] for c in body["capabilities"]] == ["process_list"]
    assert body["capabilities"][0]["patterns"][0]["name"] == "snapshot"
    assert_problem(await client.get(f"{TOOLS}/ghost_tool/capabilities"), 404)


async def test_validate_named_checks_a_body_or_the_stored_definition(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "alpha_tool")
    stored = await client.post(f"{TOOLS}/alpha_tool/validate")
    assert stored.status_code == 200
    assert stored.json()["valid"] is True
    doc = tool_doc("alpha_tool", platform="plan9")
    del doc["name"]
    invalid = (await client.post(f"{TOOLS}/alpha_tool/validate", json=doc)).json()
    assert invalid["valid"] is False
    assert [p["path"] for p in invalid["problems"]] == ["platform"]
    renamed = (await client.post(f"{TOOLS}/alpha_tool/validate", json=tool_doc("beta"))).json()
    assert renamed["valid"] is False
    assert "name" in [p["path"] for p in renamed["problems"]]
    assert_problem(await client.post(f"{TOOLS}/ghost_tool/validate"), 404)


async def test_list_filters_and_projects(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool", platform="windows", tags=["net", "x"])
    await create(client, keys, "beta_tool", category="network", tags=["net"])
    await create(client, keys, "gamma_tool", enabled=False)

    async def names(query: str) -> list[str]:
        response = await client.get(f"{TOOLS}?{query}")
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names("") == ["alpha_tool", "beta_tool", "gamma_tool"]
    assert await names("platform=windows") == ["alpha_tool"]
    assert await names("category=network") == ["beta_tool"]
    assert await names("tag=net&tag=x") == ["alpha_tool"]
    assert await names("enabled=false") == ["gamma_tool"]
    assert await names("capability=process_list&status=active") == [
        "alpha_tool",
        "beta_tool",
        "gamma_tool",
    ]
    assert await names("updated_since=2999-01-01T00:00:00Z") == []
    full = (await client.get(f"{TOOLS}?fields=full&limit=1")).json()
    assert full["items"][0]["capabilities"][0]["patterns"][0]["name"] == "snapshot"
    assert full["total"] == 3
    assert full["next_cursor"]


async def test_list_ranks_full_text_matches(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool", description="Inspect disks and partitions.")
    await create(
        client,
        keys,
        "beta_tool",
        description="Disk usage of disk partitions, disk by disk.",
        examples=["which disk is full"],
    )
    await create(client, keys, "gamma_tool", description="Restart services.")
    body = (await client.get(f"{TOOLS}?q=disk")).json()
    assert [i["name"] for i in body["items"]] == ["beta_tool", "alpha_tool"]
    assert body["total"] == 2


async def test_list_refuses_bad_parameters_with_422(client: httpx.AsyncClient) -> None:
    for query in ("limit=0", "limit=501", "platform=plan9", "cursor=%21%21", "enabled=maybe"):
        body = assert_problem(await client.get(f"{TOOLS}?{query}"), 422)
        assert body["errors"], query


async def test_pages_stay_stable_while_tools_are_inserted(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    originals = [f"tool_{c}" for c in "bcdefghijk"]
    for name in originals:
        await create(client, keys, name)
    seen: list[str] = []
    cursor = None
    inserted = False
    while True:
        url = f"{TOOLS}?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url)).json()
        seen += [item["name"] for item in page["items"]]
        if not inserted:  # between pages: one before the boundary, one after
            await create(client, keys, "tool_a_new")
            await create(client, keys, "tool_z_new")
            inserted = True
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n in originals] == originals
    assert "tool_z_new" in seen
    assert "tool_a_new" not in seen


async def test_ranked_pages_stay_stable_too(client: httpx.AsyncClient, keys: Keys) -> None:
    for i in range(7):
        await create(client, keys, f"disk_tool_{i}", description="disk " * (i + 1) + "tool.")
    seen: list[str] = []
    cursor = None
    while True:
        url = f"{TOOLS}?q=disk&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url)).json()
        seen += [item["name"] for item in page["items"]]
        await create(client, keys, f"zz_disk_{len(seen)}", description="disk disk disk tool.")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    originals = [f"disk_tool_{i}" for i in range(7)]
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n in originals] == originals[::-1]  # more mentions rank higher


async def test_updated_since_takes_iso_times_only(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get(f"{TOOLS}?updated_since=0.5"), 422)
    assert "ISO 8601" in body["errors"][0]["message"]
    naive = await client.get(f"{TOOLS}?updated_since=2999-01-01T00:00:00")
    assert (naive.status_code, naive.json()["items"]) == (200, [])
