"""Versions, diff, rollback and the audit log over HTTP: every write is one transaction that
leaves a version and an audit entry (actor, request id, client address, diff), or nothing."""

from __future__ import annotations

import base64

import httpx
import pytest

from builders import tool_doc
from toolcatalog.catalog.keys import Role

from .support import Keys, assert_problem, create, write_with_etag

TOOLS = "/api/v1/tools"


async def _three_revisions(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    for description in ("Two.", "Three."):
        patched = await write_with_etag(
            client, "PATCH", f"{TOOLS}/alpha_tool", {"description": description}, keys.editor
        )
        assert patched.status_code == 200, patched.text


async def test_versions_list_every_revision_oldest_first(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _three_revisions(client, keys)
    body = (await client.get(f"{TOOLS}/alpha_tool/versions")).json()
    assert body["tool_name"] == "alpha_tool"
    assert body["total_versions"] == 3
    assert [(v["revision"], v["action"], v["actor"]) for v in body["versions"]] == [
        (1, "create", "test-editor"),
        (2, "patch", "test-editor"),
        (3, "patch", "test-editor"),
    ]
    assert_problem(await client.get(f"{TOOLS}/ghost_tool/versions"), 404)


async def test_one_version_holds_its_full_definition(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three_revisions(client, keys)
    body = (await client.get(f"{TOOLS}/alpha_tool/versions/2")).json()
    assert body["revision"] == 2
    assert body["definition"]["description"] == "Two."
    assert_problem(await client.get(f"{TOOLS}/alpha_tool/versions/9"), 404)
    assert_problem(await client.get(f"{TOOLS}/alpha_tool/versions/0"), 422)


async def test_diff_is_structured_and_defaults_to_the_current_revision(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _three_revisions(client, keys)
    body = (await client.get(f"{TOOLS}/alpha_tool/diff?from=1")).json()
    assert (body["from"], body["to"]) == (1, 3)
    assert body["changes"] == [
        {
            "op": "change",
            "path": "description",
            "from": "alpha_tool does a useful thing for tests.",
            "to": "Three.",
        }
    ]
    same = (await client.get(f"{TOOLS}/alpha_tool/diff?from=2&to=2")).json()
    assert same["changes"] == []
    assert_problem(await client.get(f"{TOOLS}/alpha_tool/diff?from=1&to=7"), 404)
    assert_problem(await client.get(f"{TOOLS}/alpha_tool/diff"), 422)


async def test_rollback_appends_a_copy_and_never_rewrites_history(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _three_revisions(client, keys)
    response = await client.post(
        f"{TOOLS}/alpha_tool/rollback", json={"version": 1}, headers=keys.editor
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"].startswith('"4-')
    assert response.json()["description"] == "alpha_tool does a useful thing for tests."
    versions = (await client.get(f"{TOOLS}/alpha_tool/versions")).json()["versions"]
    assert [v["action"] for v in versions] == ["create", "patch", "patch", "rollback"]
    diff = (await client.get(f"{TOOLS}/alpha_tool/diff?from=1&to=4")).json()
    assert diff["changes"] == []


async def test_rollback_errors(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three_revisions(client, keys)
    url = f"{TOOLS}/alpha_tool/rollback"
    assert_problem(await client.post(url, json={"version": 8}, headers=keys.editor), 404)
    assert_problem(await client.post(url, json={"version": 0}, headers=keys.editor), 422)
    assert_problem(await client.post(url, json={"revision": 1}, headers=keys.editor), 422)
    assert_problem(await client.post(url, json={"version": 1}, headers=keys.reader), 403)
    stale = {**keys.editor, "If-Match": '"1-0000000000000000"'}
    assert_problem(await client.post(url, json={"version": 1}, headers=stale), 412)


async def test_every_write_is_audited_with_actor_request_id_client_and_diff(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    def headers(n: int) -> dict[str, str]:
        return {**keys.editor, "X-Request-ID": f"req-{n}"}

    assert (await client.post(TOOLS, json=tool_doc("alpha_tool"), headers=headers(1))).is_success
    writes = [
        write_with_etag(
            client, "PUT", f"{TOOLS}/alpha_tool", tool_doc("alpha_tool", owner="a"), headers(2)
        ),
        write_with_etag(client, "PATCH", f"{TOOLS}/alpha_tool", {"owner": "b"}, headers(3)),
        client.patch(f"{TOOLS}/alpha_tool/disable", headers=headers(4)),
        client.patch(f"{TOOLS}/alpha_tool/enable", headers=headers(5)),
        client.post(f"{TOOLS}/alpha_tool/rollback", json={"version": 1}, headers=headers(6)),
        client.delete(f"{TOOLS}/alpha_tool", headers=headers(7)),
        client.delete(
            f"{TOOLS}/alpha_tool?purge=true", headers={**keys.admin, "X-Request-ID": "req-8"}
        ),
    ]
    for write in writes:
        response = await write
        assert response.is_success, response.text
    trail = (await client.get(f"{TOOLS}/alpha_tool/audit")).json()["items"]
    assert [e["action"] for e in trail] == [
        "purge", "delete", "rollback", "enable", "disable", "patch", "update", "create",
    ]  # fmt: skip
    assert [e["request_id"] for e in trail] == [f"req-{n}" for n in range(8, 0, -1)]
    assert {e["actor"] for e in trail} == {"test-editor", "test-admin"}
    assert {e["client_address"] for e in trail} == {"127.0.0.1"}
    assert [(e["revision_before"], e["revision_after"]) for e in trail[-3:]] == [
        (2, 3),
        (1, 2),
        (None, 1),
    ]
    assert trail[-3]["diff"] == [{"op": "change", "path": "owner", "from": "a", "to": "b"}]
    assert all(e["diff"] for e in trail)


async def test_a_refused_write_leaves_no_trace(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    refused = [
        write_with_etag(client, "PATCH", f"{TOOLS}/alpha_tool", {"platform": "plan9"}, keys.editor),
        client.put(
            f"{TOOLS}/alpha_tool",
            json=tool_doc("alpha_tool", owner="x"),
            headers={**keys.editor, "If-Match": '"9-nope"'},
        ),
        client.post(TOOLS, json=tool_doc("alpha_tool"), headers=keys.editor),
    ]
    for write in refused:
        assert (await write).status_code in (409, 412, 422)
    trail = (await client.get(f"{TOOLS}/alpha_tool/audit")).json()["items"]
    assert [e["action"] for e in trail] == ["create"]
    assert (await client.get(f"{TOOLS}/alpha_tool/versions")).json()["total_versions"] == 1


async def test_the_audit_log_filters_and_pages(client: httpx.AsyncClient, keys: Keys) -> None:
    for i in range(5):
        await create(client, keys, f"tool_{i}")
    await write_with_etag(client, "PATCH", f"{TOOLS}/tool_0", {"owner": "x"}, keys.admin)
    creates = (await client.get("/api/v1/audit?action=create")).json()["items"]
    assert [e["tool_name"] for e in creates] == [f"tool_{i}" for i in range(4, -1, -1)]
    by_admin = (await client.get("/api/v1/audit?actor=test-admin")).json()["items"]
    assert [(e["action"], e["tool_name"]) for e in by_admin] == [("patch", "tool_0")]
    one_tool = (await client.get("/api/v1/audit?tool=tool_0")).json()["items"]
    assert [e["action"] for e in one_tool] == ["patch", "create"]
    future = (await client.get("/api/v1/audit?since=2999-01-01T00:00:00Z")).json()
    assert future == {"items": [], "next_cursor": None}
    seen: list[int] = []
    cursor = None
    while True:
        page = (
            await client.get("/api/v1/audit?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        ).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (
        len(seen) == len(Role) + 6
    )  # the fixture's key_create entries (one per role), then the tools'
    assert seen == sorted(seen, reverse=True)


async def test_audit_refuses_bad_filters_and_foreign_cursors(client: httpx.AsyncClient) -> None:
    for query in ("action=explode", "cursor=bm9wZQ", "since=yesterday", "limit=0"):
        assert_problem(await client.get(f"/api/v1/audit?{query}"), 422)


async def test_a_purged_tools_trail_outlives_it(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys, "alpha_tool")
    await client.delete(f"{TOOLS}/alpha_tool?purge=true", headers=keys.admin)
    trail = (await client.get(f"{TOOLS}/alpha_tool/audit")).json()["items"]
    assert [e["action"] for e in trail] == ["purge", "create"]
    assert trail[0]["diff"][0]["op"] == "remove"


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(f"audit:{big}".encode()).decode().rstrip("=")
        for big in (2**63, 2**64 + 5, 10**400)
    ],
)
async def test_an_audit_cursor_with_an_id_beyond_64_bits_is_refused_with_422(
    client: httpx.AsyncClient, cursor: str
) -> None:
    body = assert_problem(await client.get(f"/api/v1/audit?cursor={cursor}"), 422)
    assert body["errors"][0]["path"] == "cursor"


@pytest.mark.parametrize("since", ["0.5", "0", "1700000000", "-1", "1e9"])
async def test_since_as_a_bare_number_is_refused_not_read_as_unix_time(
    client: httpx.AsyncClient, since: str
) -> None:
    body = assert_problem(await client.get(f"/api/v1/audit?since={since}"), 422)
    assert "ISO 8601" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00"],
)
async def test_since_at_the_edges_of_time_answers_without_a_500(
    client: httpx.AsyncClient, since: str
) -> None:
    response = await client.get("/api/v1/audit", params={"since": since})
    assert response.status_code in (200, 422), response.text
