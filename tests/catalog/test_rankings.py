"""Full-text rankings carried from one catalog version to the next (catalog/rankings.py): a
version made by writes derives each search an earlier version answered from that answer and
the changed tools, and gives what a version built afresh from the same tools ranks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from toolcatalog.catalog.entries import tool_terms
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool, pack_body
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import load_folder_snapshot

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILTERS = [
    ToolFilter(q="disk usage"),
    ToolFilter(q='"disk usage"'),
    ToolFilter(q="disk or memory -windows"),
    ToolFilter(q="zorblat"),
    ToolFilter(q="-linux"),
    ToolFilter(q="network latency", platform="linux"),
    ToolFilter(q="logs", enabled=True, updated_since=T0 + timedelta(days=1)),
    ToolFilter(q="process memory", search_fields=("name", "description")),
    ToolFilter(q="service", search_fields=("examples",)),
    ToolFilter(q="storage", search_fields=("category", "tool_name")),
]


def _entry(tool: Tool, day: int) -> CachedTool:
    at = T0 + timedelta(days=day)
    return CachedTool(tool, pack_body(b"{}"), f'"{day}"', day, T0, at, terms=tool_terms(tool))


def _rewritten(tool: Tool, rng: random.Random, step: int) -> Tool:
    words = ["zorblat", "disk", "usage", "memory", "network", "latency", "logs", "windows"]
    text = " ".join(rng.sample(words, rng.randint(1, 4)))
    update: dict[str, object] = {"description": f"{text} {step}"}
    if rng.random() < 0.3:
        update["enabled"] = not tool.enabled
    return tool.model_copy(update=update)


def test_rankings_carried_through_writes_equal_rankings_afresh() -> None:
    rng = random.Random(14)
    tools = {t.name: t for t in load_folder_snapshot(ROOT / "catalog", strict=False).tools}
    names = sorted(tools)
    entries = {n: _entry(tools[n], 0) for n in names}
    version = CatalogVersion.build(dict(entries), 1, None, None, 0.0)
    asked = [version.ranked(f) for f in FILTERS]  # the earliest version ranks them afresh
    assert all(asked[:3])
    assert not asked[3]
    removed: dict[str, CachedTool] = {}
    for step in range(1, 40):
        fresh: dict[str, CachedTool] = {}
        for name in rng.sample(names, rng.randint(1, 6)):
            if name in removed:
                fresh[name] = removed.pop(name)  # put back
            elif name in version.entries:
                fresh[name] = _entry(_rewritten(version.entries[name].tool, rng, step), step)
        gone = [n for n in rng.sample(names, rng.randint(0, 2)) if n not in fresh]
        removed |= {n: version.entries[n] for n in gone if n in version.entries}
        version = version.changed(fresh, gone, step + 1, 0.0)
        afresh = CatalogVersion.build(dict(version.entries), step + 1, None, None, 0.0)
        # Some versions answer nothing: the next one carries from the last that did.
        if step % 3:
            for f in FILTERS:
                carried = version.ranked_if_kept(f)
                assert carried is not None, (step, f)
                assert list(carried) == list(afresh.ranked(f)), (step, f)
                assert version.ranked(f) is carried


def test_a_version_after_many_changes_ranks_afresh() -> None:
    tools = load_folder_snapshot(ROOT / "catalog", strict=False).tools
    entries = {t.name: _entry(t, 0) for t in tools}
    version = CatalogVersion.build(dict(entries), 1, None, None, 0.0)
    version.ranked(FILTERS[0])
    changed = {t.name: _entry(t.model_copy(update={"description": "disk"}), 1) for t in tools}
    version = version.changed(changed, (), 2, 0.0)
    assert version.ranked_if_kept(FILTERS[0]) is None
    afresh = CatalogVersion.build(dict(version.entries), 2, None, None, 0.0)
    assert list(version.ranked(FILTERS[0])) == list(afresh.ranked(FILTERS[0]))
