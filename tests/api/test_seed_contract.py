"""The OpsConductor (seed) platform's own API check, as our test: the same fifteen calls in
the same order, reading the same fields, against the real app on real PostgreSQL with the
starter catalog. Written from the contract (the seed's repository carries no licence).

Two ways a seed client reaches us without a code change: the server setting
TOOLCATALOG_OPSCONDUCTOR_API (its clients call /api/v1/tools, keyless on loopback with the
development setting), or the always-mounted /opsconductor/api/v1/tools with one header.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from toolcatalog.catalog.service import Actor
from toolcatalog.formats.catalog_folder import load_catalog_folder
from toolcatalog.runtime import Runtime

from .support import ClientFactory, Keys, seed_tool_body

STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


async def import_starter(runtime: Runtime) -> int:
    tools, vocabulary = load_catalog_folder(STARTER)
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)
    return len(tools)


async def run_seed_check(client: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
    """The fifteen steps; each asserts what the seed's check reads."""
    # 1. health
    r = await client.get(f"{base}/health", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "healthy"
    assert r.json()["tool_count"] > 0
    # 2. list
    r = await client.get(base, headers=headers)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert listed["total"] >= len(listed["tools"]) > 0
    for t in listed["tools"]:
        assert {"tool_name", "platform", "category"} <= set(t)
    first = listed["tools"][0]["tool_name"]
    # 3. get
    r = await client.get(f"{base}/{first}", headers=headers)
    assert r.status_code == 200, r.text
    tool = r.json()
    assert tool["tool_name"] == first
    assert {"version", "platform", "category", "status", "enabled"} <= set(tool)
    # 4. versions
    r = await client.get(f"{base}/{first}/versions", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total_versions"] == len(r.json()["versions"]) >= 1
    assert all({"version", "created_at"} <= set(v) for v in r.json()["versions"])
    # 5. search
    r = await client.get(f"{base}/search/query", params={"q": "search"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(r.json()["results"]) > 0
    assert all(isinstance(t["tool_name"], str) and t["description"] for t in r.json()["results"])
    # 6, 7. platform and category
    for path in ("platform/linux", "category/system"):
        r = await client.get(f"{base}/{path}", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["tools"])
        assert all("tool_name" in t for t in r.json()["tools"])
    # 8. capabilities
    r = await client.get(f"{base}/capabilities/list", headers=headers)
    assert r.status_code == 200, r.text
    capabilities = r.json()
    assert capabilities
    assert all(
        c["tool_count"] == len(c["tools"]) and all(isinstance(n, str) for n in c["tools"])
        for c in capabilities
    )
    # 9. tools by capability
    capability = capabilities[0]["capability_name"]
    r = await client.get(f"{base}/capabilities/{capability}/tools", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(r.json()["tools"])
    assert all("tool_name" in t for t in r.json()["tools"])
    # 10. validate
    r = await client.post(f"{base}/{first}/validate", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True
    assert isinstance(r.json()["warnings"], list)
    # 11. disable, enable
    r = await client.patch(f"{base}/{first}/disable", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False
    r = await client.patch(f"{base}/{first}/enable", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True
    # 12. create
    r = await client.post(base, json=seed_tool_body(), headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["tool_name"] == "probe_tool"
    assert created["status"] == "testing"
    assert isinstance(created["id"], int)
    assert created["version"]
    # 13. update
    update = {"description": "Probe, updated.", "status": "active", "updated_by": "contract_test"}
    r = await client.put(f"{base}/probe_tool", json=update, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "Probe, updated."
    assert r.json()["status"] == "active"
    # 14. export
    r = await client.post(f"{base}/export", json=["probe_tool"], headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["tool_count"] == 1
    assert len(r.json()["yaml_content"]) > 0
    # 15. delete, then 404
    r = await client.delete(f"{base}/probe_tool", headers=headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"{base}/probe_tool", headers=headers)
    assert r.status_code == 404, r.text


async def test_the_seed_check_passes_keyless_on_loopback_with_the_two_settings(
    runtime: Runtime, make_client: ClientFactory
) -> None:
    await import_starter(runtime)
    async with make_client(opsconductor_api=True, dev_keyless_loopback_writes=True) as client:
        await run_seed_check(client, "/api/v1/tools", {})


async def test_the_seed_check_passes_on_the_seed_mount_with_one_key_header(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await import_starter(runtime)
    await run_seed_check(client, "/opsconductor/api/v1/tools", keys.admin)
