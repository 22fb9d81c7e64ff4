"""Filtered lists from the per-value name lists (catalog/filter_index.py): a version changed
tool by tool answers every filter as one built from scratch, and as a scan of every tool."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from builders import make_tool, tool_doc
from toolcatalog.catalog.filter_index import FilterIndex, predicate
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool, pack_body
from toolcatalog.model.listing import ToolFilter

PLATFORMS = ["linux", "windows", "macos"]
CATEGORIES = ["system", "network", "storage"]


def _capabilities(rng: random.Random) -> list[dict[str, object]]:
    template = tool_doc()["capabilities"][0]
    names = rng.sample(
        ["process_list", "disk_usage", "log_search", "dns_lookup"], rng.randint(1, 3)
    )
    return [{**template, "name": name} for name in names]


def _entry(i: int, rng: random.Random) -> CachedTool:
    tool = make_tool(
        f"tool_{i:03d}",
        capabilities=_capabilities(rng),
        platform=rng.choice(PLATFORMS),
        category=rng.choice(CATEGORIES),
        tags=rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)),
        enabled=rng.random() < 0.8,
        status=rng.choice(["active", "experimental", "deprecated"]),
    )
    now = datetime.now(UTC)
    return CachedTool(
        tool=tool, packed=pack_body(b"{}"), etag='"e"', revision=1, created_at=now, updated_at=now
    )


FILTERS = [
    ToolFilter(platform="linux"),
    ToolFilter(category="storage"),
    ToolFilter(platform="windows", category="network"),
    ToolFilter(tags=("a", "b")),
    ToolFilter(enabled=False),
    ToolFilter(status="deprecated", platform="macos"),
    ToolFilter(capability="process_list", tags=("c",)),
    ToolFilter(platform="linux", enabled=True, status="active", tags=("d",)),
]


def test_a_version_changed_tool_by_tool_filters_as_one_built_afresh() -> None:
    rng = random.Random(14)
    entries = {f"tool_{i:03d}": _entry(i, rng) for i in range(60)}
    version = CatalogVersion.build(dict(entries), 1, None, None, 0.0)
    for step in range(40):
        fresh = {f"tool_{i:03d}": _entry(i, rng) for i in rng.sample(range(80), 3)}
        gone = [f"tool_{i:03d}" for i in rng.sample(range(80), 2) if f"tool_{i:03d}" not in fresh]
        version = version.changed(fresh, gone, step + 2, 0.0)
        afresh = FilterIndex.of(version.entries)
        # The snapshot the selector reads holds the version's tools in name order, by name.
        assert version.snapshot.tools == tuple(version.entries[n].tool for n in version.names)
        assert version.snapshot.by_name == {n: e.tool for n, e in version.entries.items()}
        for f in FILTERS:
            scanned = tuple(n for n in version.names if predicate(f)(version.entries[n]))
            assert version.matching(f) == scanned, (step, f)
            keys = [("platform", f.platform), ("category", f.category), ("tag", "a")]
            for key in keys:
                assert version.filtering.names(key) == afresh.names(key)
        # The capability index (GET /capabilities) made from the lists, as a walk would.
        walked: dict[str, list[str]] = {}
        for name in version.names:
            for cap in version.entries[name].tool.capabilities:
                walked.setdefault(cap.name, []).append(name)
        index = version.capability_index()
        assert {k: list(v) for k, v in index.items()} == dict(sorted(walked.items()))
        assert list(index) == sorted(walked)
        assert version.capability_index() is index  # made once a version


def test_an_edit_that_keeps_the_filter_values_shares_the_index() -> None:
    rng = random.Random(1)
    entries = {f"tool_{i:03d}": _entry(i, rng) for i in range(10)}
    version = CatalogVersion.build(dict(entries), 1, None, None, 0.0)
    same = entries["tool_003"]
    edited = CachedTool(
        tool=same.tool.model_copy(update={"description": "Something else entirely."}),
        packed=pack_body(b"{}"),
        etag='"f"',
        revision=2,
        created_at=same.created_at,
        updated_at=same.updated_at,
    )
    assert version.changed({"tool_003": edited}, (), 2, 0.0).filtering is version.filtering
