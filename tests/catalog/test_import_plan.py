"""plan_import decides an import without a database: what is created, updated, unchanged,
skipped, and which names are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from builders import make_tool
from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.catalog.import_plan import plan_import
from toolcatalog.errors import InvalidDefinition
from toolcatalog.store.tools import ToolRecord


def _stored(tool_name: str, description: str, revision: int = 3) -> ToolRecord:
    definition = canonical_definition(make_tool(tool_name, description=description))
    now = datetime.now(UTC)
    etag = make_etag(definition, revision)
    return ToolRecord(1, tool_name, revision, etag, definition, now, now)


def test_new_changed_and_identical_tools_are_told_apart() -> None:
    existing = {
        "beta_tool": _stored("beta_tool", "Old."),
        "gamma_tool": _stored("gamma_tool", "Same."),
    }
    tools = [
        make_tool("alpha_tool"),
        make_tool("beta_tool", description="New."),
        make_tool("gamma_tool", description="Same."),
    ]
    plan = plan_import(tools, existing)
    assert (plan.created, plan.updated, plan.unchanged) == (
        ["alpha_tool"],
        ["beta_tool"],
        ["gamma_tool"],
    )
    assert plan.inserts[0].revision == 1
    write, old = plan.updates[0]
    assert (write.revision, old.revision) == (4, 3)
    assert write.etag.startswith('"4-')


def test_without_overwrite_a_changed_tool_is_skipped() -> None:
    plan = plan_import(
        [make_tool("beta_tool", description="New.")],
        {"beta_tool": _stored("beta_tool", "Old.")},
        overwrite=False,
    )
    assert (plan.skipped, plan.changed) == (["beta_tool"], 0)


def test_a_name_given_twice_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        plan_import([make_tool("alpha_tool"), make_tool("alpha_tool")], {})
    assert [p.path for p in caught.value.problems] == ["[1].name"]
