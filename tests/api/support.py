"""Helpers of the API tests: a client over a runtime, keys of each role, assertions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from builders import starter_definitions, tool_doc
from toolcatalog.api.app import create_app
from toolcatalog.catalog.service import Actor
from toolcatalog.runtime import Runtime

BASE = "http://testserver"
STARTER = Path(__file__).resolve().parents[2] / "catalog"
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def client_for(
    runtime: Runtime, address: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app over `runtime`, calling from `address` (loopback by default)."""
    transport = httpx.ASGITransport(app=create_app(runtime), client=address)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@dataclass(frozen=True)
class Keys:
    """Headers carrying a key of each role (`none` carries none)."""

    reader: dict[str, str]
    editor: dict[str, str]
    admin: dict[str, str]
    none: dict[str, str]
    reporter: dict[str, str] = field(default_factory=dict)

    def of(self, role: str) -> dict[str, str]:
        headers: dict[str, str] = getattr(self, role)
        return headers


async def create(
    client: httpx.AsyncClient, keys: Keys, name: str = "alpha_tool", **overrides: Any
) -> httpx.Response:
    response = await client.post(
        "/api/v1/tools", json=tool_doc(name, **overrides), headers=keys.editor
    )
    assert response.status_code == 201, response.text
    return response


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem+json answer with this status, and no trace of a stack."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in response.text
    return body


def seed_tool_body(name: str = "probe_tool") -> dict[str, Any]:
    """A tool in the seed API's request shape: capabilities and patterns as lists."""
    return {
        "tool_name": name,
        "version": "1.0",
        "description": "A probe that checks the seed contract.",
        "platform": "linux",
        "category": "system",
        "status": "testing",
        "enabled": True,
        "defaults": {"accuracy_level": "real-time", "freshness": "live", "data_source": "direct"},
        "dependencies": [],
        "metadata": {"author": "contract test", "tags": ["probe", "contract"]},
        "capabilities": [
            {
                "capability_name": "probe_capability",
                "description": "Probe something.",
                "patterns": [
                    {
                        "pattern_name": "probe_once",
                        "description": "Probe it once.",
                        "typical_use_cases": ["probing"],
                        "time_estimate_ms": "250",
                        "cost_estimate": "2",
                        "complexity_score": 0.3,
                        "scope": "local",
                        "completeness": "full",
                        "limitations": [],
                        "policy": {"max_cost": 5, "requires_approval": False,
                                   "production_safe": True},
                        "preference_match": {"speed": 0.6, "accuracy": 0.7, "cost": 0.5,
                                             "complexity": 0.6, "completeness": 0.8},
                        "required_inputs": [{"name": "target", "type": "string",
                                             "required": True, "description": "What to probe"}],
                        "expected_outputs": [{"name": "answer", "type": "string",
                                              "description": "What it found"}],
                        "examples": [],
                    }
                ],
            }
        ],
        "created_by": "contract_test",
    }  # fmt: skip


async def write_with_etag(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> httpx.Response:
    """A PUT or PATCH of the tool at `path` the way a careful client makes it: read its
    current ETag, send it back as If-Match (required by default)."""
    etag = (await client.get(path)).headers["etag"]
    return await client.request(method, path, json=body, headers={**headers, "If-Match": etag})


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


async def import_starter(runtime: Runtime) -> int | None:
    """Import the repository's starter catalog through the service; its generation."""
    tools, vocabulary = starter_definitions()
    report = await runtime.catalog.import_definitions(
        tools, actor=Actor("test"), vocabulary=vocabulary
    )
    return report.generation
