"""Concurrent writers against the real database through a real pool: one ETag, many PUTs,
exactly one wins; read-modify-write loops and unconditional patches lose no update."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from builders import make_settings, tool_doc
from toolcatalog.catalog.keys import Role
from toolcatalog.runtime import open_runtime

from .support import assert_problem, client_for

TOOL = "/api/v1/tools/alpha_tool"
WRITERS = 12


@pytest.fixture
async def pooled(
    fresh_db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client over a runtime with a pool of real connections (committed transactions),
    allowing writes without If-Match (TOOLCATALOG_REQUIRE_IF_MATCH=false) so that what they
    do under contention can be tested too."""
    settings = make_settings(
        fresh_db_url, tmp_path, pool_min_size=2, pool_max_size=WRITERS, require_if_match=False
    )
    async with open_runtime(settings, listen=False) as runtime:
        key = await runtime.keys.create("writer", Role.editor)
        async with client_for(runtime) as client:
            headers = {"Authorization": f"Bearer {key.secret}"}
            created = await client.post(
                "/api/v1/tools", json=tool_doc("alpha_tool"), headers=headers
            )
            assert created.status_code == 201
            yield client, headers


async def test_concurrent_puts_with_one_etag_have_exactly_one_winner(
    pooled: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = pooled
    etag = (await client.get(TOOL)).headers["etag"]

    async def put(i: int) -> httpx.Response:
        doc = tool_doc("alpha_tool", description=f"Written by writer {i}.")
        return await client.put(TOOL, json=doc, headers={**headers, "If-Match": etag})

    responses = await asyncio.gather(*(put(i) for i in range(WRITERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WRITERS - 1)
    winner = next(r for r in responses if r.status_code == 200)
    current = await client.get(TOOL)
    assert current.json()["description"] == winner.json()["description"]
    versions = (await client.get(f"{TOOL}/versions")).json()
    assert versions["total_versions"] == 2
    audit = (await client.get(f"{TOOL}/audit?action=update")).json()["items"]
    assert len(audit) == 1


async def test_read_modify_write_loops_lose_no_update(
    pooled: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = pooled

    async def add_tag(i: int) -> int:
        conflicts = 0
        while True:
            current = await client.get(TOOL)
            tags = [*current.json()["tags"], f"writer-{i}"]
            response = await client.patch(
                TOOL,
                json={"tags": tags},
                headers={**headers, "If-Match": current.headers["etag"]},
            )
            if response.status_code == 200:
                return conflicts
            assert response.status_code == 412, response.text
            conflicts += 1

    conflicts = await asyncio.gather(*(add_tag(i) for i in range(WRITERS)))
    tags = (await client.get(TOOL)).json()["tags"]
    assert sorted(tags) == sorted(["test", *(f"writer-{i}" for i in range(WRITERS))])
    assert (await client.get(f"{TOOL}/versions")).json()["total_versions"] == 1 + WRITERS
    assert sum(conflicts) > 0  # they did race


async def test_unconditional_merge_patches_serialise_without_412(
    pooled: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = pooled

    async def patch(i: int) -> httpx.Response:
        return await client.patch(TOOL, json={"metadata": {f"writer_{i}": i}}, headers=headers)

    responses = await asyncio.gather(*(patch(i) for i in range(WRITERS)))
    assert {r.status_code for r in responses} == {200}
    metadata = (await client.get(TOOL)).json()["metadata"]
    assert metadata == {f"writer_{i}": i for i in range(WRITERS)}


async def test_a_write_queued_behind_a_held_row_lock_answers_409_busy_with_retry_after(
    fresh_db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fresh_db_url, tmp_path, db_lock_timeout_s=0.2)
    async with open_runtime(settings, listen=False) as runtime, client_for(runtime) as client:
        key = await runtime.keys.create("writer", Role.editor)
        headers = {"Authorization": f"Bearer {key.secret}"}
        created = await client.post("/api/v1/tools", json=tool_doc("alpha_tool"), headers=headers)
        holder = await asyncpg.connect(fresh_db_url)
        try:
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM tool_catalog.tools WHERE name = 'alpha_tool' FOR UPDATE"
                )
                response = await client.patch(
                    TOOL,
                    json={"description": "Queued."},
                    headers={**headers, "If-Match": created.headers["etag"]},
                )
        finally:
            await holder.close()
        body = assert_problem(response, 409)
        assert body["type"].endswith("/busy")
        assert "retry" in body["detail"]
        assert response.headers["retry-after"] == "1"
        assert runtime.db.available
        health = (await client.get("/api/v1/tools/health")).json()
        assert health["status"] == "healthy"
