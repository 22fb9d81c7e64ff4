"""The seed contract's details beside ours: the list's query parameters mean what they meant
in the seed or are refused, our own routes keep their shapes with the setting on or off,
and the development setting for keyless clients admits loopback only."""

from __future__ import annotations

import httpx
import pytest
import yaml

from builders import tool_doc

from .support import ClientFactory, Keys, assert_problem, create, seed_tool_body

SEED = "/opsconductor/api/v1/tools"


async def _three(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "test_runner")
    await create(client, keys, "speedtest_cli")
    await create(client, keys, "other_tool", enabled=False)


async def test_name_filters_the_seed_list_by_a_part_of_the_name(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _three(client, keys)
    r = await client.get(SEED, params={"name": "TEST"})
    assert r.status_code == 200, r.text
    assert [t["tool_name"] for t in r.json()["tools"]] == ["speedtest_cli", "test_runner"]
    assert r.json()["total"] == 2
    assert r.json()["page"] == 1
    assert r.json()["page_size"] == 50


async def test_enabled_and_latest_filter_the_seed_list_as_in_the_seed(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _three(client, keys)
    enabled = (await client.get(SEED, params={"enabled": "true"})).json()
    assert [t["tool_name"] for t in enabled["tools"]] == ["speedtest_cli", "test_runner"]
    disabled = (await client.get(SEED, params={"enabled": "false"})).json()
    assert [t["tool_name"] for t in disabled["tools"]] == ["other_tool"]
    latest = (await client.get(SEED, params={"latest": "true"})).json()
    assert latest["total"] == 3


async def test_latest_false_is_refused_with_a_pointer_to_versions(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get(SEED, params={"latest": "false"}), 422)
    assert body["errors"][0]["path"] == "latest"
    assert "versions" in body["errors"][0]["message"]


async def test_seed_pages_are_offset_pages(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three(client, keys)
    r = await client.get(SEED, params={"page": 2, "page_size": 2})
    assert [t["tool_name"] for t in r.json()["tools"]] == ["test_runner"]
    assert r.json()["total"] == 3


@pytest.mark.parametrize("param", ["name", "latest", "page", "sort"])
async def test_our_list_refuses_query_parameters_it_does_not_take(
    client: httpx.AsyncClient, param: str
) -> None:
    body = assert_problem(await client.get("/api/v1/tools", params={param: "x"}), 422)
    error = body["errors"][0]
    assert error["path"] == param
    assert error["in"] == "query"
    assert "limit" in error["message"]  # names what it takes


async def test_the_seed_list_refuses_parameters_the_seed_never_had(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get(SEED, params={"q": "disk"}), 422)
    assert body["errors"][0]["path"] == "q"


async def test_our_routes_keep_their_shapes_without_the_setting(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "test_runner")
    assert "items" in (await client.get("/api/v1/tools")).json()
    assert (await client.get("/api/v1/tools/test_runner")).json()["name"] == "test_runner"
    seed = (await client.get(f"{SEED}/test_runner")).json()
    assert seed["tool_name"] == "test_runner"
    assert isinstance(seed["id"], int)


async def test_with_the_setting_ours_stays_under_native_and_where_the_seed_had_nothing(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(opsconductor_api=True) as client:
        await client.post("/native/api/v1/tools", json=tool_doc("test_runner"), headers=keys.editor)
        assert "items" in (await client.get("/native/api/v1/tools")).json()
        assert (await client.get("/api/v1/tools")).json()["tools"][0]["tool_name"] == "test_runner"
        r = await client.patch(
            "/api/v1/tools/test_runner",
            json={"owner": "ops"},
            headers={**keys.editor, "If-Match": "*"},
        )
        assert r.status_code == 200
        assert r.json()["owner"] == "ops"
        assert (await client.get("/api/v1/tools/metrics")).status_code == 200
        diff = await client.get("/api/v1/tools/test_runner/diff", params={"from": 1})
        assert diff.status_code == 200


async def test_a_seed_update_changes_the_given_fields_and_refuses_others(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "test_runner")
    r = await client.put(
        f"{SEED}/test_runner",
        json={"status": "testing", "defaults": {"freshness": "live"}, "updated_by": "me"},
        headers=keys.editor,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "testing"
    assert r.json()["defaults"] == {"freshness": "live"}
    assert r.json()["updated_by"] == "me"
    ours = (await client.get("/api/v1/tools/test_runner")).json()
    assert ours["status"] == "experimental"
    stale = {**keys.editor, "If-Match": '"1-0"'}
    r = await client.put(f"{SEED}/test_runner", json={"enabled": False}, headers=stale)
    assert_problem(r, 412)
    etag = (await client.get(f"{SEED}/test_runner")).headers["ETag"]
    fresh = {**keys.editor, "If-Match": etag}
    r = await client.put(f"{SEED}/test_runner", json={"enabled": False}, headers=fresh)
    assert r.status_code == 200, r.text
    r = await client.put(f"{SEED}/test_runner", json={"owner": "x"}, headers=keys.editor)
    assert assert_problem(r, 422)["errors"][0]["path"] == "owner"


async def test_a_seed_delete_removes_the_tool_and_needs_an_admin_key(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys, "test_runner")
    assert_problem(await client.delete(f"{SEED}/test_runner", headers=keys.editor), 403)
    assert_problem(await client.delete(f"{SEED}/test_runner?version=9.9", headers=keys.admin), 404)
    r = await client.delete(f"{SEED}/test_runner?version=1.0", headers=keys.admin)
    assert r.status_code == 204
    assert_problem(await client.get(f"{SEED}/test_runner"), 404)


async def test_without_the_development_setting_a_keyless_write_names_the_header(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.patch(f"{SEED}/x/disable"), 401)
    assert "Authorization: Bearer" in body["detail"]


async def test_the_development_setting_admits_keyless_writes_from_loopback_only(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(dev_keyless_loopback_writes=True) as local:
        await create(local, keys, "test_runner")
        r = await local.patch(f"{SEED}/test_runner/disable")
        assert r.status_code == 200
        assert r.json()["enabled"] is False
        proxied = await local.patch(
            f"{SEED}/test_runner/enable", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert_problem(proxied, 401)
        assert_problem(await local.get("/api/v1/keys"), 401)  # keys need a real admin key
        audit = (await local.get("/api/v1/tools/test_runner/audit")).json()
        assert "keyless-loopback-dev" in str(audit)
    remote = ("198.51.100.7", 40000)
    async with make_client(remote, dev_keyless_loopback_writes=True) as client:
        assert_problem(await client.patch(f"{SEED}/test_runner/enable"), 401)


async def test_the_development_setting_is_announced_loudly_at_start(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client(dev_keyless_loopback_writes=True):
        pass
    warned = [r for r in caplog.records if "DEV_KEYLESS_LOOPBACK_WRITES" in r.getMessage()]
    assert warned
    assert warned[0].levelname == "WARNING"


async def test_a_seed_create_returns_the_converter_warnings_and_refuses_with_seed_paths(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.post(SEED, json=seed_tool_body("warned_tool"), headers=keys.editor)
    assert r.status_code == 201, r.text
    assert any("'1.0' -> '1.0.0'" in w for w in r.json()["warnings"])
    assert r.json()["defaults"]["freshness"] == "live"  # kept, and read back where it was
    bad = seed_tool_body("bad_tool")
    bad["capabilities"][0]["patterns"][0]["complexity_score"] = 3
    body = assert_problem(await client.post(SEED, json=bad, headers=keys.editor), 422)
    assert any("complexity_score" in e["path"] for e in body["errors"])
    assert_problem(
        await client.post(SEED, json=seed_tool_body("warned_tool"), headers=keys.editor), 409
    )


async def test_a_write_shows_in_the_next_seed_list(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three(client, keys)
    before = (await client.get(SEED, params={"enabled": "false"})).json()
    assert [t["tool_name"] for t in before["tools"]] == ["other_tool"]
    r = await client.patch(f"{SEED}/test_runner/disable", headers=keys.editor)
    assert r.status_code == 200
    after = (await client.get(SEED, params={"enabled": "false"})).json()
    assert [t["tool_name"] for t in after["tools"]] == ["other_tool", "test_runner"]
    seed = (await client.get(f"{SEED}/test_runner")).json()
    assert seed["enabled"] is False
    assert seed["revision"] == 2


async def test_a_seed_import_converts_its_yaml_all_or_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    text = yaml.safe_dump([seed_tool_body("first_probe"), seed_tool_body("second_probe")])
    check = {"yaml_content": text, "validate_only": True}
    r = await client.post(f"{SEED}/import", json=check, headers=keys.editor)
    assert r.json()["success"] is True, r.text
    assert_problem(await client.get(f"{SEED}/first_probe"), 404)  # nothing written
    r = await client.post(f"{SEED}/import", json={"yaml_content": text}, headers=keys.editor)
    assert r.json()["imported_count"] == 2, r.text
    assert any(w.startswith("first_probe: version") for w in r.json()["warnings"])
    again = await client.post(f"{SEED}/import", json={"yaml_content": text}, headers=keys.editor)
    assert again.json()["success"] is True  # identical: importing twice is harmless
    assert again.json()["imported_count"] == 0  # unchanged tools are not counted
    changed = seed_tool_body("first_probe")
    changed["description"] = "Changed."
    text = yaml.safe_dump([changed])
    again = await client.post(f"{SEED}/import", json={"yaml_content": text}, headers=keys.editor)
    assert again.json()["success"] is False
    assert "overwrite=true" in again.json()["errors"][0]["error"]
    bad = seed_tool_body("third_probe")
    bad["capabilities"][0]["patterns"][0]["complexity_score"] = 3
    text = yaml.safe_dump([bad, seed_tool_body("fourth_probe")])
    r = await client.post(f"{SEED}/import", json={"yaml_content": text}, headers=keys.editor)
    assert r.json()["success"] is False
    assert r.json()["errors"][0]["tool"] == "third_probe"
    assert_problem(await client.get(f"{SEED}/fourth_probe"), 404)


async def test_seed_requests_are_labelled_with_their_mount_in_the_metrics(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(SEED)).status_code == 200
    text = (await client.get("/metrics")).text
    assert 'route="/opsconductor/api/v1/tools"' in text
    assert 'route=""' not in text
