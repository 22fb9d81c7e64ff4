"""ToolCatalogService against the real database: writes, history, audit, ETags, import."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from builders import make_tool, tool_doc
from toolcatalog.catalog.documents import canonical_definition, diff_documents
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.errors import Conflict, InvalidDefinition, NotFound, PreconditionFailed
from toolcatalog.metrics import REGISTRY
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Tool
from toolcatalog.store.database import Database


async def test_import_creates_then_is_idempotent(service: ToolCatalogService) -> None:
    tools = [make_tool("alpha_tool"), make_tool("beta_tool")]
    first = await service.import_definitions(tools)
    assert sorted(first.created) == ["alpha_tool", "beta_tool"]
    again = await service.import_definitions(tools)
    assert again.created == again.updated == []
    assert sorted(again.unchanged) == ["alpha_tool", "beta_tool"]
    assert [v.revision for v in await service.versions("alpha_tool")] == [1]


async def test_import_of_a_changed_tool_creates_a_new_version(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool")])
    changed = make_tool("alpha_tool", description="A better description.")
    report = await service.import_definitions([changed])
    assert report.updated == ["alpha_tool"]
    versions = await service.versions("alpha_tool")
    assert [v.revision for v in versions] == [1, 2]
    diff = await service.diff("alpha_tool", 1, 2)
    assert diff == [
        {
            "op": "change",
            "path": "description",
            "from": "alpha_tool does a useful thing for tests.",
            "to": "A better description.",
        }
    ]


async def test_dry_run_writes_nothing(service: ToolCatalogService) -> None:
    report = await service.import_definitions([make_tool("alpha_tool")], dry_run=True)
    assert report.created == ["alpha_tool"]
    with pytest.raises(NotFound):
        await service.get_tool("alpha_tool")


async def test_create_refuses_an_existing_name(service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    with pytest.raises(Conflict):
        await service.create_tool(make_tool("alpha_tool"))


async def test_stale_etag_is_refused_and_changes_nothing(service: ToolCatalogService) -> None:
    created = await service.create_tool(make_tool("alpha_tool"))
    updated = await service.replace_tool(
        "alpha_tool", make_tool("alpha_tool", description="Second."), if_match=created.etag
    )
    assert updated.etag != created.etag
    with pytest.raises(PreconditionFailed):
        await service.replace_tool(
            "alpha_tool", make_tool("alpha_tool", description="Third."), if_match=created.etag
        )
    current = await service.get_tool("alpha_tool")
    assert current.tool.description == "Second."


async def test_patch_merges_and_revalidates(service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    patched = await service.patch_tool("alpha_tool", {"tags": ["a", "b"], "owner": "sre"})
    assert patched.tool.tags == ["a", "b"]
    assert patched.tool.owner == "sre"
    with pytest.raises(InvalidDefinition) as err:
        await service.patch_tool("alpha_tool", {"platform": "plan9"})
    assert err.value.problems[0].path == "platform"


async def test_a_patch_is_checked_for_depth_and_nul_on_its_own_with_its_paths(
    service: ToolCatalogService,
) -> None:
    """The merged document is not walked again for depth and NULs (the stored definition
    passed both): the patch's own checks refuse what the merge would have carried, at the
    path the merged document would have had, and nothing is written."""
    await service.create_tool(make_tool("alpha_tool"))
    with pytest.raises(InvalidDefinition, match="NUL") as err:
        await service.patch_tool("alpha_tool", {"metadata": {"team": "a\x00b"}})
    assert [p.path for p in err.value.problems] == ["metadata.team"]
    deep: dict[str, Any] = {}
    for _ in range(80):
        deep = {"x": deep}
    with pytest.raises(InvalidDefinition, match="nests too deeply"):
        await service.patch_tool("alpha_tool", {"metadata": deep})
    assert (await service.get_tool("alpha_tool")).revision == 1


async def test_soft_delete_disables_and_keeps_history(service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    deleted = await service.delete_tool("alpha_tool", actor=Actor("ops"))
    assert deleted is not None
    assert deleted.tool.status.value == "disabled"
    assert not deleted.tool.enabled
    assert len(await service.versions("alpha_tool")) == 2


async def test_purge_removes_the_tool_but_not_its_audit_trail(
    service: ToolCatalogService,
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    await service.delete_tool("alpha_tool", purge=True, actor=Actor("admin"))
    with pytest.raises(NotFound):
        await service.get_tool("alpha_tool")
    trail = await service.audit(tool_name="alpha_tool")
    assert [e.action for e in trail] == ["purge", "create"]


async def test_rollback_appends_a_copy_of_the_old_version(service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    await service.replace_tool("alpha_tool", make_tool("alpha_tool", description="Changed."))
    rolled = await service.roll_back_tool("alpha_tool", 1)
    assert rolled.revision == 3
    assert rolled.tool == make_tool("alpha_tool")
    assert [v.action for v in await service.versions("alpha_tool")] == [
        "create",
        "update",
        "rollback",
    ]


async def test_every_write_is_audited_with_a_diff(service: ToolCatalogService) -> None:
    actor = Actor("alice", request_id="req-1", client_address="10.0.0.1")
    await service.create_tool(make_tool("alpha_tool"), actor=actor)
    await service.set_enabled("alpha_tool", False, actor=actor)
    entries = await service.audit(tool_name="alpha_tool")
    assert [(e.action, e.revision_before, e.revision_after) for e in entries] == [
        ("disable", 1, 2),
        ("create", None, 1),
    ]
    assert entries[0].diff == [{"op": "change", "path": "enabled", "from": True, "to": False}]
    assert {(e.actor, e.request_id) for e in entries} == {("alice", "req-1")}


async def test_an_import_records_each_creation_as_a_single_write_would(
    service: ToolCatalogService,
) -> None:
    # An import's versions and audit entries are written in chunks beside the planning
    # thread; they must read back as the document and as diff_documents({}, document).
    actor = Actor("bob", request_id="req-2", client_address="10.0.0.2")
    tools = [
        make_tool("alpha_tool", tags=["disk", "linux"], display_name="Alpha"),
        make_tool("beta_tool"),
    ]
    await service.import_definitions(tools, actor=actor)
    for tool in tools:
        definition = canonical_definition(tool)
        [entry] = await service.audit(tool_name=tool.name)
        assert (entry.action, entry.actor, entry.revision_before, entry.revision_after) == (
            "import",
            "bob",
            None,
            1,
        )
        assert (entry.request_id, entry.client_address) == ("req-2", "10.0.0.2")
        assert entry.diff == diff_documents({}, definition)
        [version] = await service.versions(tool.name)
        assert (version.definition, version.actor, version.action) == (definition, "bob", "import")


async def test_cached_reads_do_not_query_again(service: ToolCatalogService) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    service.invalidate_all()
    for _ in range(100):
        await service.get_tool("alpha_tool")
    stats = service.state.tools.stats()
    assert stats.misses == 1
    assert stats.hits == 99


async def test_snapshot_holds_every_tool_and_advances_with_writes(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    first = await service.get_all_tools_with_structure()
    assert sorted(first.by_name) == ["alpha_tool", "beta_tool"]
    await service.create_tool(make_tool("gamma_tool"))
    second = await service.get_all_tools_with_structure()
    assert second.generation > first.generation
    assert "gamma_tool" in second.by_name


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (tool_doc(name="Bad-Name"), "name"),
        (tool_doc(name="health"), "name"),
        (tool_doc(platform="plan9"), "platform"),
    ],
)
def test_invalid_documents_name_the_path(doc: dict[str, Any], path: str) -> None:
    from toolcatalog.catalog.service import validate_tool

    with pytest.raises(InvalidDefinition) as err:
        validate_tool(doc)
    assert err.value.problems[0].path == path


def test_tool_round_trips_through_its_document() -> None:
    tool = make_tool("alpha_tool")
    # The stored document, not a plain dump: it leaves out effects the tool did not declare,
    # so the tool reads back exactly as it was defined (undeclared effects stay undeclared).
    assert Tool.model_validate(canonical_definition(tool)) == tool


async def test_a_write_refreshes_only_the_changed_tools_in_the_snapshot(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    first = await service.get_all_tools_with_structure()
    await service.replace_tool("beta_tool", make_tool("beta_tool", description="Changed."))
    await service.create_tool(make_tool("gamma_tool"))
    await service.delete_tool("alpha_tool", purge=True)
    second = await service.get_all_tools_with_structure()
    assert [t.name for t in second.tools] == ["beta_tool", "gamma_tool"]
    assert second.by_name["beta_tool"].description == "Changed."
    assert second.generation > first.generation
    # The unchanged tool object is carried over, not re-read and re-validated.
    await service.create_tool(make_tool("delta_tool"))
    third = await service.get_all_tools_with_structure()
    assert third.by_name["beta_tool"] is second.by_name["beta_tool"]


async def test_a_full_invalidation_rereads_the_whole_catalog(
    service: ToolCatalogService, conn: Any
) -> None:
    await service.import_definitions([make_tool("alpha_tool")])
    first = await service.get_all_tools_with_structure()
    # A change the service did not make itself (another writer, a missed notice):
    await conn.execute("UPDATE tools SET definition = jsonb_set(definition, '{owner}', '\"x\"')")
    service.invalidate_all()
    second = await service.get_all_tools_with_structure()
    assert second.by_name["alpha_tool"].owner == "x"
    assert second.by_name["alpha_tool"] is not first.by_name["alpha_tool"]


async def test_lists_serve_each_tool_as_encoded_once_until_it_changes(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    first = await service.list_tools(ToolFilter())
    again = await service.list_tools(ToolFilter())
    assert [i is j for i, j in zip(first.items, again.items, strict=True)] == [True, True]
    # A write puts the changed tool into a new version at once; the others are kept as they
    # were (not validated or encoded again).
    await service.replace_tool("alpha_tool", make_tool("alpha_tool", description="New."))
    after = {i.tool.name: i for i in (await service.list_tools(ToolFilter())).items}
    assert after["alpha_tool"].tool.description == "New."
    assert b'"description":"New."' in after["alpha_tool"].summary
    assert after["beta_tool"] is first.items[1]


async def test_filters_and_keyset_pages_are_answered_from_memory(
    service: ToolCatalogService,
) -> None:
    names = [f"tool_{i:02d}" for i in range(7)]
    await service.import_definitions(
        [make_tool(n, tags=["even"] if i % 2 == 0 else ["odd"]) for i, n in enumerate(names)]
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = await service.list_tools(ToolFilter(tags=("even",)), limit=2, cursor=cursor)
        assert page.total == 4
        seen += [i.tool.name for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["tool_00", "tool_02", "tool_04", "tool_06"]


async def test_a_repeated_search_follows_every_change_of_the_catalog(
    service: ToolCatalogService,
) -> None:
    await service.import_definitions(
        [make_tool("alpha_tool", description="Rotates the web server logs.")]
    )
    await service.import_definitions([make_tool("beta_tool", description="Shows disk usage.")])
    rotate = ToolFilter(q="rotate logs")
    first = await service.list_tools(rotate, limit=10)
    assert [t.tool.name for t in first.items] == ["alpha_tool"]
    again = await service.list_tools(rotate, limit=10)  # remembered by this version
    assert [t.tool.name for t in again.items] == ["alpha_tool"]
    assert again.total == 1
    await service.patch_tool("beta_tool", {"description": "Rotates and compresses logs."})
    after = await service.list_tools(rotate, limit=10)
    assert sorted(t.tool.name for t in after.items) == ["alpha_tool", "beta_tool"]
    assert after.total == 2


async def test_the_tools_gauge_counts_the_current_version_by_status_after_each_write(
    service: ToolCatalogService,
) -> None:
    def gauge() -> dict[str, float | None]:
        return {
            status: REGISTRY.get_sample_value("toolcatalog_tools", {"status": status})
            for status in ("active", "experimental", "deprecated", "disabled")
        }

    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    await service.get_all_tools_with_structure()
    assert gauge() == {"active": 2, "experimental": 0, "deprecated": 0, "disabled": 0}

    await service.patch_tool("alpha_tool", {"status": "deprecated"})
    assert gauge() == {"active": 1, "experimental": 0, "deprecated": 1, "disabled": 0}

    await service.delete_tool("beta_tool")
    assert gauge() == {"active": 0, "experimental": 0, "deprecated": 1, "disabled": 1}

    await service.delete_tool("alpha_tool", purge=True)
    assert gauge() == {"active": 0, "experimental": 0, "deprecated": 0, "disabled": 1}


async def test_a_write_planned_on_a_held_copy_that_another_replica_changed_is_planned_again(
    service: ToolCatalogService, db: Database, settings: Settings
) -> None:
    created = await service.create_tool(make_tool("alpha_tool"))
    assert (await service.get_tool("alpha_tool")).etag == created.etag  # held in memory
    # Another replica's write, whose notice this service never hears (no listener here).
    other = ToolCatalogService(db, settings)
    moved = await other.patch_tool("alpha_tool", {"description": "Changed elsewhere."})
    # The client read the other replica's ETag: the held copy's older one must not refuse it.
    patched = await service.patch_tool("alpha_tool", {"owner": "sre"}, if_match=moved.etag)
    assert patched.tool.description == "Changed elsewhere."  # not lost
    assert patched.tool.owner == "sre"
    assert patched.revision == 3
    with pytest.raises(PreconditionFailed):
        await service.patch_tool("alpha_tool", {"owner": "dba"}, if_match=moved.etag)
    # A change that is none against the held copy is one against the stored row.
    await other.patch_tool("alpha_tool", {"owner": "dba"})
    back = await service.patch_tool("alpha_tool", {"owner": "sre"})
    assert back.tool.owner == "sre"
    assert back.revision == 5
    assert (await ToolCatalogService(db, settings).get_tool("alpha_tool")).tool.owner == "sre"


async def test_concurrent_writes_to_one_tool_in_one_process_all_land(
    service: ToolCatalogService,
) -> None:
    await service.create_tool(make_tool("alpha_tool"))
    changes: list[dict[str, Any]] = [
        {"owner": "sre"},
        {"tags": ["a", "b"]},
        {"description": "Described again."},
        {"version": "2.0.0"},
    ]
    results = await asyncio.gather(*(service.patch_tool("alpha_tool", c) for c in changes))
    assert sorted(r.revision for r in results) == [2, 3, 4, 5]
    final = await service.get_tool("alpha_tool")
    assert final.revision == 5
    assert (final.tool.owner, final.tool.tags) == ("sre", ["a", "b"])
    assert (final.tool.description, final.tool.version) == ("Described again.", "2.0.0")
    # What this process serves after its own writes equals the stored row, validated afresh.
    stored = await ToolCatalogService(service.db, service.settings).get_tool("alpha_tool")
    assert (final.tool, final.body, final.etag) == (stored.tool, stored.body, stored.etag)
