"""Who may do what: every route against every role, keys sent either way, the API for keys,
and TOOLCATALOG_AUTH=required."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builders import make_tool, tool_doc
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.formats.dump import dump_yaml
from toolcatalog.store.database import Database

from .support import ClientFactory, Keys, assert_problem

T = "/api/v1/tools"
ROLES = ("none", "reader", "editor", "admin")
Route = tuple[str, str, Any]

READS: list[Route] = [
    ("GET", T, None),
    ("GET", f"{T}/alpha_tool", None),
    ("GET", f"{T}/alpha_tool/versions", None),
    ("GET", f"{T}/alpha_tool/versions/1", None),
    ("GET", f"{T}/alpha_tool/diff?from=1", None),
    ("GET", f"{T}/alpha_tool/capabilities", None),
    ("GET", f"{T}/alpha_tool/audit", None),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/capabilities", None),
    ("GET", "/api/v1/capabilities/process_list/tools", None),
    ("GET", f"{T}/capabilities/list", None),
    ("GET", f"{T}/capabilities/process_list/tools", None),
    ("GET", f"{T}/search/query?q=alpha", None),
    ("GET", f"{T}/platform/linux", None),
    ("GET", f"{T}/category/system", None),
    ("POST", f"{T}/validate", tool_doc("gamma_tool")),
    ("POST", f"{T}/alpha_tool/validate", None),
    ("POST", f"{T}/export", []),
]
EDITS: list[Route] = [
    ("POST", T, tool_doc("beta_tool")),
    ("PUT", f"{T}/alpha_tool", tool_doc("alpha_tool", owner="x")),
    ("PATCH", f"{T}/alpha_tool", {"owner": "y"}),
    ("PATCH", f"{T}/alpha_tool/disable", None),
    ("PATCH", f"{T}/alpha_tool/enable", None),
    ("DELETE", f"{T}/alpha_tool", None),
    ("POST", f"{T}/alpha_tool/rollback", {"version": 1}),
    ("POST", f"{T}/bulk", {"tools": [tool_doc("beta_tool")]}),
    ("POST", f"{T}/import", {"yaml_content": dump_yaml(tool_doc("beta_tool"))}),
]
ADMINS: list[Route] = [
    ("DELETE", f"{T}/alpha_tool?purge=true", None),
    ("GET", "/api/v1/keys", None),
    ("POST", "/api/v1/keys", {"name": "new-key", "role": "reader"}),
    ("DELETE", "/api/v1/keys/victim", None),
]
NEEDS = {"reader": READS, "editor": EDITS, "admin": ADMINS}
RANK = {"none": 0, "reader": 1, "editor": 2, "admin": 3}


def _matrix() -> list[Any]:
    cases = []
    for needed, routes in NEEDS.items():
        for method, path, body in routes:
            for role in ROLES:
                label = f"{method} {path} as {role}"
                cases.append(pytest.param(method, path, body, needed, role, id=label))
    return cases


@pytest.fixture
async def seeded(db: Database, service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    await ApiKeyService(db).create("victim", Role.reader)


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    if method in ("PUT", "PATCH"):
        headers = {**headers, "If-Match": "*"}  # roles are the subject here, not ETags
    if body is None:
        return await client.request(method, path, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "needed", "role"), _matrix())
@pytest.mark.usefixtures("seeded")
async def test_each_route_admits_exactly_the_roles_it_needs(
    client: httpx.AsyncClient,
    keys: Keys,
    method: str,
    path: str,
    body: Any,
    needed: str,
    role: str,
) -> None:
    response = await _call(client, method, path, body, keys.of(role))
    open_read = needed == "reader"  # reads are open unless TOOLCATALOG_AUTH=required
    if open_read or RANK[role] >= RANK[needed]:
        assert response.is_success, response.text
    elif role == "none":
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert_problem(response, 403)


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
@pytest.mark.usefixtures("seeded")
async def test_reads_need_a_key_when_auth_is_required(
    make_client: ClientFactory, keys: Keys, method: str, path: str, body: Any
) -> None:
    async with make_client(auth="required") as client:
        assert_problem(await _call(client, method, path, body, keys.none), 401)
        assert (await _call(client, method, path, body, keys.reader)).is_success
        health = await client.get(f"{T}/health")
        assert health.status_code == 200  # probes need no key


async def test_a_key_that_is_sent_must_be_valid_even_for_open_reads(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for headers in (
        {"Authorization": "Bearer tck_not-a-real-key-at-all-000000000000000000"},
        {"X-API-Key": "garbage"},
        {"Authorization": "Bearer " + keys.reader["Authorization"][7:] + "x"},
    ):
        assert_problem(await client.get(T, headers=headers), 401)
    assert (await client.get(T, headers={"Authorization": "Basic dXNlcjpwdw=="})).is_success


async def test_both_headers_carry_keys(client: httpx.AsyncClient, keys: Keys) -> None:
    secret = keys.editor["Authorization"].removeprefix("Bearer ")
    for headers in ({"X-API-Key": secret}, {"Authorization": f"bearer {secret}"}):
        response = await client.post(T, json=tool_doc("alpha_tool"), headers=headers)
        assert response.status_code in (201, 409), response.text


async def test_keys_are_created_once_listed_without_secrets_and_revoked(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await client.post(
        "/api/v1/keys", json={"name": "ci-bot", "role": "editor"}, headers=keys.admin
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret = body["key"]
    assert secret.startswith("tck_")
    assert body["prefix"] == secret[:12]
    listed = await client.get("/api/v1/keys", headers=keys.admin)
    assert secret not in listed.text
    ci = next(k for k in listed.json()["keys"] if k["name"] == "ci-bot")
    assert (ci["role"], ci["revoked_at"]) == ("editor", None)

    bot = {"Authorization": f"Bearer {secret}"}
    assert (await client.post(T, json=tool_doc("alpha_tool"), headers=bot)).status_code == 201
    audit = (await client.get(f"{T}/alpha_tool/audit")).json()["items"]
    assert audit[0]["actor"] == "ci-bot"

    revoked = await client.delete("/api/v1/keys/ci-bot", headers=keys.admin)
    assert revoked.status_code == 204
    assert_problem(await client.patch(f"{T}/alpha_tool", json={"owner": "x"}, headers=bot), 401)
    assert_problem(await client.delete("/api/v1/keys/ci-bot", headers=keys.admin), 404)
    trail = (await client.get("/api/v1/audit?actor=test-admin")).json()["items"]
    assert [(e["action"], e["diff"][0]["path"]) for e in trail] == [
        ("key_revoke", "api_keys[ci-bot]"),
        ("key_create", "api_keys[ci-bot]"),
    ]
    assert secret not in str(trail)


async def test_key_creation_errors(client: httpx.AsyncClient, keys: Keys) -> None:
    url = "/api/v1/keys"
    taken = {"name": "test-reader", "role": "reader"}
    assert_problem(await client.post(url, json=taken, headers=keys.admin), 409)
    for body in ({"name": "bad name!"}, {"name": "x", "role": "root"}, {}):
        assert_problem(await client.post(url, json=body, headers=keys.admin), 422)
    assert_problem(await client.delete(f"{url}/nobody", headers=keys.admin), 404)


OPEN_BY_SETTING = {
    "open_metrics": ["/metrics", f"{T}/metrics/prometheus"],
    "open_docs": ["/docs", "/redoc", "/openapi.json"],
}


@pytest.mark.parametrize("setting", sorted(OPEN_BY_SETTING))
async def test_with_auth_required_metrics_and_docs_are_open_as_their_setting_says(
    make_client: ClientFactory, keys: Keys, setting: str
) -> None:
    async with make_client(auth="required") as client:
        for path in OPEN_BY_SETTING[setting]:
            assert (await client.get(path)).status_code == 200, path
    async with make_client(auth="required", **{setting: False}) as client:
        for path in OPEN_BY_SETTING[setting]:
            assert_problem(await client.get(path), 401)
            assert (await client.get(path, headers=keys.reader)).status_code == 200, path
        assert (await client.get(f"{T}/health")).status_code == 200  # always open
