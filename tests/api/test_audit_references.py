"""A creation's audit entry kept by reference to the tool's first version (migration 0009):
the audit API answers exactly as it did when the whole diff was stored, before and after the
tool is updated, deleted, purged and created again under the same name. Each creation is
compared with a twin entry written as the code before stored it (the diff in full)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from builders import tool_doc
from toolcatalog.catalog.documents import canonical_definition, diff_documents
from toolcatalog.errors import InvalidDefinition
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime
from toolcatalog.store import audit as audit_store
from toolcatalog.store.audit import AuditWrite

from .support import Keys, write_with_etag

TOOLS = "/api/v1/tools"
BEFORE = "code-before"  # the twins' actor


async def _twin(runtime: Runtime, doc: dict[str, Any], revision: int = 1) -> None:
    """The entry the code before wrote for this creation: the diff in full."""
    definition = canonical_definition(Tool.model_validate(doc))
    async with runtime.db.transaction() as conn:
        await audit_store.insert_audit(
            conn,
            [AuditWrite(BEFORE, "create", doc["name"], None, revision,
                        diff_documents({}, definition))],
        )  # fmt: skip


async def _trail(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get(f"{TOOLS}/{name}/audit")).json()["items"]
    return items


def _text(entry: dict[str, Any]) -> str:
    """The entry's diff as the API wrote it: key order included."""
    return json.dumps(entry["diff"])


def _pairs(trail: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each creation's diff beside its twin's, oldest first."""
    ours = [e for e in trail if e["revision_before"] is None and e["actor"] != BEFORE]
    twins = [e for e in trail if e["actor"] == BEFORE]
    assert len(ours) == len(twins)
    return [(_text(a), _text(b)) for a, b in zip(reversed(ours), reversed(twins), strict=True)]


async def _by_reference(runtime: Runtime, name: str) -> int:
    async with runtime.db.transaction() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM tool_audit_log WHERE tool_name = $1 AND added_fields IS NOT NULL",
            name,
        )
    return n


async def test_a_creations_entry_reads_as_its_full_diff_through_update_delete_purge_and_reuse(
    client: httpx.AsyncClient, keys: Keys, runtime: Runtime
) -> None:
    first = tool_doc("alpha_tool", owner="first")
    assert (await client.post(TOOLS, json=first, headers=keys.editor)).status_code == 201
    await _twin(runtime, first)
    assert await _by_reference(runtime, "alpha_tool") == 1
    [(created, as_before)] = _pairs(await _trail(client, "alpha_tool"))
    assert created == as_before
    assert json.loads(created)[0] == {"op": "add", "to": "alpha_tool", "path": "name"}

    for write in (
        write_with_etag(client, "PATCH", f"{TOOLS}/alpha_tool", {"owner": "b"}, keys.editor),
        client.delete(f"{TOOLS}/alpha_tool", headers=keys.editor),
    ):
        assert (await write).is_success
    trail = await _trail(client, "alpha_tool")
    assert [e["action"] for e in trail[:2]] == ["delete", "patch"]
    assert trail[1]["diff"] == [{"op": "change", "path": "owner", "from": "first", "to": "b"}]
    assert [d["path"] for d in trail[0]["diff"]] == ["status", "enabled"]
    assert [a for a, b in _pairs(trail)] == [created]

    purged = await client.delete(f"{TOOLS}/alpha_tool?purge=true", headers=keys.admin)
    assert purged.status_code == 204, purged.text
    assert await _by_reference(runtime, "alpha_tool") == 0  # written in full by the purge
    assert _pairs(await _trail(client, "alpha_tool")) == [(created, as_before)]

    # The same name again: a new tool with a version 1 of its own. The old creation's entry
    # keeps the old tool's document; the new one reads the new tool's.
    second = tool_doc("alpha_tool", owner="second", description="Another tool.")
    assert (await client.post(TOOLS, json=second, headers=keys.editor)).status_code == 201
    await _twin(runtime, second)
    pairs = _pairs(await _trail(client, "alpha_tool"))
    assert pairs[0] == (created, as_before)
    assert pairs[1][0] == pairs[1][1] != created


async def test_an_imports_creations_read_as_their_full_diffs(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    docs = [tool_doc(f"tool_{i}", tags=["x", f"t{i}"]) for i in range(3)]
    report = await runtime.catalog.import_definitions([Tool.model_validate(d) for d in docs])
    assert len(report.created) == 3
    for doc in docs:
        await _twin(runtime, doc)
        assert await _by_reference(runtime, doc["name"]) == 1
        [(created, as_before)] = _pairs(await _trail(client, doc["name"]))
        assert created == as_before
    everything = (await client.get("/api/v1/audit?action=import")).json()["items"]
    assert [e["tool_name"] for e in everything] == ["tool_2", "tool_1", "tool_0"]
    assert all(e["diff"][0]["path"] == "name" for e in everything)


async def test_an_entry_by_reference_must_name_its_version_and_store_no_diff(
    runtime: Runtime,
) -> None:
    bad = [
        AuditWrite("a", "create", None, None, 1, [], added_fields=["name"]),
        AuditWrite("a", "create", "alpha_tool", None, None, [], added_fields=["name"]),
        AuditWrite("a", "create", "alpha_tool", None, 1, [{"op": "add"}], added_fields=["name"]),
    ]
    for entry in bad:
        with pytest.raises(InvalidDefinition, match="tool_audit_log_added_fields_check"):
            async with runtime.db.transaction() as conn:
                await audit_store.insert_audit(conn, [entry])
