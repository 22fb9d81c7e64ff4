"""Defence in depth: a stored tool that no longer validates (written under older rules, or
edited in SQL) is left out of reads, selection and exports; the rest keeps serving, and
health names it until it is replaced."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from builders import tool_doc
from toolcatalog import metrics
from toolcatalog.runtime import Runtime

from .support import Keys, assert_problem, create, write_with_etag

TOOLS = "/api/v1/tools"


async def _poison(conn: Any, runtime: Runtime, name: str) -> None:
    """What a non-finite estimate became before it was refused: null, stored by orjson."""
    await conn.execute(
        """UPDATE tool_catalog.tools SET definition = jsonb_set(definition,
               '{capabilities,0,patterns,0,profile,time_estimate_ms}', 'null')
           WHERE name = $1""",
        name,
    )
    runtime.catalog.invalidate_all()  # as after a restart, or on another replica


async def test_a_poisoned_row_is_skipped_everywhere_and_named_by_health(
    client: httpx.AsyncClient, keys: Keys, runtime: Runtime, conn: Any
) -> None:
    await create(client, keys, "alpha_tool")
    await create(client, keys, "beta_tool")
    await _poison(conn, runtime, "beta_tool")

    assert (await client.get(f"{TOOLS}/alpha_tool")).status_code == 200
    body = assert_problem(await client.get(f"{TOOLS}/beta_tool"), 409)
    assert "time_estimate_ms" in body["detail"]
    listed = (await client.get(TOOLS)).json()
    assert [t["name"] for t in listed["items"]] == ["alpha_tool"]

    selected = await client.post("/api/v1/select", json={"request": "what is alpha_tool doing"})
    assert selected.status_code == 200, selected.text
    assert selected.json()["decision"]["tool"] == "alpha_tool"

    exported = await client.post(f"{TOOLS}/export", json=[])
    assert exported.status_code == 200, exported.text
    assert [t["name"] for t in yaml.safe_load(exported.json()["yaml_content"])] == ["alpha_tool"]
    checked = await client.post(f"{TOOLS}/validate", json=tool_doc("gamma_tool"))
    assert checked.status_code == 200, checked.text

    health = (await client.get(f"{TOOLS}/health")).json()
    assert health["status"] == "degraded"
    assert "beta_tool" in health["reason"]
    assert list(health["invalid_tools"]) == ["beta_tool"]
    assert metrics.STORED_TOOLS_INVALID._value.get() == 1


async def test_replacing_the_poisoned_tool_heals_the_catalog(
    client: httpx.AsyncClient, keys: Keys, runtime: Runtime, conn: Any
) -> None:
    await create(client, keys, "beta_tool")
    await _poison(conn, runtime, "beta_tool")
    assert (await client.get(f"{TOOLS}/beta_tool")).status_code == 409
    assert (await client.get(f"{TOOLS}/health")).json()["status"] == "degraded"

    # Its GET is a 409 (no ETag to send back): replaced knowingly, If-Match: *.
    fixed = await client.put(
        f"{TOOLS}/beta_tool", json=tool_doc("beta_tool"), headers={**keys.editor, "If-Match": "*"}
    )
    assert fixed.status_code == 200, fixed.text
    assert (await client.get(f"{TOOLS}/beta_tool")).status_code == 200
    health = (await client.get(f"{TOOLS}/health")).json()
    assert (health["status"], health["invalid_tools"]) == ("healthy", {})
    assert metrics.STORED_TOOLS_INVALID._value.get() == 0


async def test_a_poisoned_old_version_answers_409_and_the_others_still_serve(
    client: httpx.AsyncClient, keys: Keys, conn: Any
) -> None:
    await create(client, keys, "beta_tool")
    await write_with_etag(client, "PATCH", f"{TOOLS}/beta_tool", {"owner": "sre"}, keys.editor)
    await conn.execute(
        """UPDATE tool_catalog.tool_versions SET definition = jsonb_set(definition,
               '{capabilities,0,patterns,0,profile,time_estimate_ms}', 'null')
           WHERE revision = 1"""
    )
    body = assert_problem(await client.get(f"{TOOLS}/beta_tool/versions/1"), 409)
    assert "time_estimate_ms" in body["detail"]
    assert (await client.get(f"{TOOLS}/beta_tool/versions/2")).status_code == 200
    assert (await client.get(f"{TOOLS}/beta_tool/versions")).status_code == 200
    rollback = await client.post(
        f"{TOOLS}/beta_tool/rollback", json={"version": 1}, headers=keys.editor
    )
    assert rollback.status_code in (409, 422), rollback.text
