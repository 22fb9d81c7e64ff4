"""Helpers of the API tests: a client over a runtime, keys of each role, assertions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from builders import tool_doc
from toolcatalog.api.app import create_app
from toolcatalog.runtime import Runtime

BASE = "http://testserver"
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
