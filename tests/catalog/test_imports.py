"""CatalogImports against the real database: an import planned and written in chunks is one
transaction with the history a single write would leave."""

from __future__ import annotations

import pytest

from builders import make_tool
from toolcatalog.catalog import imports
from toolcatalog.catalog.documents import canonical_definition, diff_documents
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.errors import InvalidDefinition, NotFound
from toolcatalog.model.listing import ToolFilter


async def test_an_import_in_several_chunks_creates_updates_and_leaves_alone(
    service: ToolCatalogService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "_CHUNK", 2)
    await service.import_definitions([make_tool("alpha_tool"), make_tool("beta_tool")])
    changed = make_tool("beta_tool", description="Changed.")
    tools = [make_tool("alpha_tool"), changed, *(make_tool(f"new_tool_{i}") for i in range(3))]

    report = await service.import_definitions(tools, actor=Actor("carol"))

    assert report.created == ["new_tool_0", "new_tool_1", "new_tool_2"]
    assert (report.updated, report.unchanged) == (["beta_tool"], ["alpha_tool"])
    assert [v.revision for v in await service.versions("beta_tool")] == [1, 2]
    [update, _creation] = await service.audit(tool_name="beta_tool")
    assert (update.action, update.actor, update.revision_before) == ("update", "carol", 1)
    before = make_tool("beta_tool").description
    assert update.diff == [
        {"op": "change", "path": "description", "from": before, "to": "Changed."}
    ]
    [creation] = await service.audit(tool_name="new_tool_2")
    assert creation.diff == diff_documents({}, canonical_definition(tools[-1]))


async def test_a_name_twice_in_different_chunks_is_refused_before_anything_is_written(
    service: ToolCatalogService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "_CHUNK", 2)
    tools = [make_tool("alpha_tool"), make_tool("beta_tool"), make_tool("alpha_tool")]

    with pytest.raises(InvalidDefinition) as refused:
        await service.import_definitions(tools)

    assert [(p.path, p.message) for p in refused.value.problems] == [
        ("[2].name", "tool 'alpha_tool' appears twice")
    ]
    with pytest.raises(NotFound):
        await service.get_tool("beta_tool")


async def test_an_import_without_tools_writes_nothing_and_reports_nothing(
    service: ToolCatalogService,
) -> None:
    # A catalog folder holding only its capabilities.yaml, or a seed tree's environments:
    # there is no chunk to plan, and nothing to write or publish.
    await service.import_definitions([make_tool("alpha_tool")])

    report = await service.import_definitions([], actor=Actor("carol"))

    assert (report.created, report.updated, report.unchanged) == ([], [], [])
    assert report.generation is None
    assert [t.tool.name for t in (await service.list_tools(ToolFilter())).items] == ["alpha_tool"]


async def test_a_reimport_compares_by_definition_where_the_stored_etag_has_no_hash(
    service: ToolCatalogService,
) -> None:
    # Rows whose ETag carries no content hash of ours (edited in SQL, say) are fetched and
    # compared by their definitions; the others by the hash alone.
    await service.import_definitions([make_tool(n) for n in ("alpha_tool", "beta_tool")])
    async with service.db.transaction() as conn:
        await conn.execute("UPDATE tools SET etag = '\"1-hand-made\"'")

    changed = make_tool("beta_tool", description="Changed.")
    report = await service.import_definitions([make_tool("alpha_tool"), changed])

    assert (report.unchanged, report.updated) == (["alpha_tool"], ["beta_tool"])
    assert [v.revision for v in await service.versions("beta_tool")] == [1, 2]
