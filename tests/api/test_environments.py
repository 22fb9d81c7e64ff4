"""Environment policy as data through the API and the catalog folder: read, written by an
editor (a revision and an audit entry), imported with the folder, and used by selection."""

from __future__ import annotations

import httpx

from builders import starter_folder
from toolcatalog.catalog.service import Actor
from toolcatalog.runtime import Runtime

from .support import Keys

ENVIRONMENTS = "/api/v1/environments"


async def _import_starter(runtime: Runtime) -> None:
    folder = starter_folder()
    await runtime.catalog.import_definitions(
        folder.tools,
        actor=Actor("test"),
        vocabulary=folder.vocabulary,
        environments=folder.environments,
    )


async def _restart(client: httpx.AsyncClient, environment: str) -> httpx.Response:
    body = {"request": "restart nginx on web01", "constraints": {"environment": environment}}
    return await client.post("/api/v1/select", json=body)


async def test_without_stored_environments_the_defaults_are_listed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ENVIRONMENTS)
    assert response.status_code == 200, response.text
    listed = {e["name"]: e for e in response.json()["environments"]}
    assert set(listed) == {"production", "staging", "dev"}
    assert listed["production"]["source"] == "default"
    assert listed["production"]["rules"]["change"] == "needs_approval"
    assert listed["dev"]["rules"]["destructive"] == "allowed"


async def test_the_starter_folder_imports_its_environments(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    listed = {e["name"]: e for e in (await client.get(ENVIRONMENTS)).json()["environments"]}
    assert listed["production"]["source"] == "catalog"
    decision = (await _restart(client, "production")).json()["decision"]
    assert decision["policy_rule"] == "environments.production.change: needs_approval"


async def test_an_editor_defines_an_environment_and_selection_follows_it_at_once(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await _import_starter(runtime)
    freeze = {"description": "Change freeze.", "change": "refused", "destructive": "refused"}
    refused = await client.put(f"{ENVIRONMENTS}/freeze", json=freeze, headers=keys.reader)
    assert refused.status_code == 403
    written = await client.put(f"{ENVIRONMENTS}/freeze", json=freeze, headers=keys.editor)
    assert written.status_code == 200, written.text
    assert written.json()["revision"] == 1
    body = (await _restart(client, "freeze")).json()
    assert body["decision"] is None
    assert "systemctl.restart_unit" in body["reason"]
    assert "environments.freeze.change: refused" in body["reason"]
    again = await client.put(f"{ENVIRONMENTS}/freeze", json=freeze, headers=keys.editor)
    assert again.json()["revision"] == 2
    trail = (await client.get("/api/v1/audit", params={"action": "environment"})).json()
    entries = trail.get("entries", trail.get("items", []))
    by_actor = [(e["actor"], e["revision_after"]) for e in entries if e["actor"] != "test"]
    assert by_actor == [("test-editor", 2), ("test-editor", 1)]
    imported = sorted(e["diff"][0]["path"] for e in entries if e["actor"] == "test")
    assert imported == ["environments.dev", "environments.production", "environments.staging"]


async def test_an_invalid_environment_is_a_422_naming_the_field(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    bad = await client.put(
        f"{ENVIRONMENTS}/prod", json={"change": "sometimes"}, headers=keys.editor
    )
    assert bad.status_code == 422
    assert "change" in bad.text
