"""plan_import decides an import without a database: what is created, updated, unchanged,
skipped, and which names are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from builders import make_tool
from toolcatalog.catalog.documents import canonical_definition, digest_of_etag, make_etag
from toolcatalog.catalog.import_plan import plan_import, prepare, stored_otherwise
from toolcatalog.errors import InvalidDefinition
from toolcatalog.store.tools import ToolHead, ToolRecord


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


def test_a_stored_tool_given_without_its_definition_is_identical_by_its_etags_hash() -> None:
    stored = _stored("beta_tool", "Same.")
    head = ToolHead(stored.id, stored.name, stored.revision, stored.etag)
    same = prepare([make_tool("beta_tool", description="Same.")])

    assert stored_otherwise(same, {"beta_tool": head}) == []
    assert plan_import(same, {"beta_tool": head}).unchanged == ["beta_tool"]


def test_a_changed_tool_given_without_its_definition_is_a_caller_error() -> None:
    stored = _stored("beta_tool", "Old.")
    head = ToolHead(stored.id, stored.name, stored.revision, stored.etag)
    changed = prepare([make_tool("beta_tool", description="New.")])

    assert stored_otherwise(changed, {"beta_tool": head}) == ["beta_tool"]
    with pytest.raises(ValueError, match="beta_tool"):
        plan_import(changed, {"beta_tool": head})
    assert plan_import(changed, {"beta_tool": stored}).updated == ["beta_tool"]


def test_an_etag_without_a_content_hash_is_compared_by_the_definitions() -> None:
    # A row whose ETag was not made by make_etag (written by hand, or by another tool):
    # its hash is unknown, so the stored definition decides, as before hashes were read.
    same = _stored("beta_tool", "Same.")
    legacy = ToolRecord(
        same.id, same.name, 3, '"3-legacy"', same.definition, same.created_at, same.updated_at
    )
    tools = prepare([make_tool("beta_tool", description="Same.")])

    assert stored_otherwise(tools, {"beta_tool": legacy}) == ["beta_tool"]
    assert plan_import(tools, {"beta_tool": legacy}).unchanged == ["beta_tool"]
    assert digest_of_etag('"3-legacy"') is None
    assert digest_of_etag(same.etag) == same.etag[3:-1]
