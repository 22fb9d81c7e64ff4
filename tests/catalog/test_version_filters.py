"""A version's list filtered by `updated_since` (catalog/version.py) is the stamps' comparison,
not a walk of every tool per distinct time: the names it gives are the walk's, for times at,
just before and just after tools' own, alone and with other filters, through writes that
carry the stamps (tools put, added or removed) and a write of many (made again)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from toolcatalog.catalog.entries import tool_terms
from toolcatalog.catalog.filter_index import predicate
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool, pack_body
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import load_folder_snapshot

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def _entry(tool: Tool, at: datetime) -> CachedTool:
    return CachedTool(tool, pack_body(b"{}"), '"x"', 1, T0, at, terms=tool_terms(tool))


def _walked(version: CatalogVersion, filters: ToolFilter) -> tuple[str, ...]:
    test = predicate(filters)
    return tuple(n for n in version.names if test(version.entries[n]))


def _check(version: CatalogVersion, rng: random.Random) -> None:
    stamps = [e.updated_at for e in version.entries.values()]
    times = [T0 - US, T0 + timedelta(days=999)]
    for at in rng.sample(stamps, 12):
        times += [at - US, at, at + US]
    for at in times:
        for extra in ({}, {"platform": "linux"}, {"enabled": True, "category": "system"}):
            filters = ToolFilter(updated_since=at, **extra)  # type: ignore[arg-type]
            assert version.matching(filters) == _walked(version, filters), (at, extra)


def test_tools_updated_since_a_time_are_the_walks_through_writes() -> None:
    rng = random.Random(19)
    tools = list(load_folder_snapshot(ROOT / "catalog", strict=False).tools)
    spare, tools = tools[:5], tools[5:]
    moment = [T0]

    def later() -> datetime:  # distinct times a microsecond or a day apart, some the same
        moment[0] += rng.choice([US, US, timedelta(days=1), timedelta(0)])
        return moment[0]

    version = CatalogVersion.build({t.name: _entry(t, later()) for t in tools}, 1, None, None, 0)
    _check(version, rng)
    assert version.holds_stamps()
    for step in range(2, 30):
        names = list(version.names)
        many = step % 9 == 0  # past _PLACED_MAX: the names sorted again, the stamps made again
        touched = rng.sample(names, 70 if many else 4)
        fresh = {n: _entry(version.entries[n].tool, later()) for n in touched}
        gone: list[str] = []
        if step % 3 == 0 and spare:  # a tool comes
            tool = spare.pop()
            fresh[tool.name] = _entry(tool, later())
        elif step % 5 == 0:  # or goes
            gone = [rng.choice([n for n in names if n not in fresh])]
        version = version.changed(fresh, gone, step, 0)
        assert version.names == tuple(sorted(version.entries))
        assert [t.name for t in version.snapshot.tools] == list(version.names)
        resorted = many and bool(gone or set(fresh) - set(names))
        assert version.holds_stamps() != resorted
        _check(version, rng)
