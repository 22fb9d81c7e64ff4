"""Rulings made ahead of the requests (rulings.rule_ahead, started by the selector after each
build) are the ones a request would have made, and a new reading of telemetry keeps those of
the tools whose figures it did not change (Rulings.recalibrated)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from builders import FixedSource
from toolcatalog.config import Settings
from toolcatalog.selection import rulings as rulings_module
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.policy import PolicyContext
from toolcatalog.selection.profiles import ObservedProfiles, ProfileRules
from toolcatalog.selection.retrieval import CatalogIndex
from toolcatalog.selection.rulings import AHEAD_SLICE, DEFAULT_CONTEXT, Rulings, rule_ahead
from toolcatalog.selection.selector import Selector

from .observed import observed_stats

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
REQUEST = SelectionRequest(request="why is the disk full on db2")
CONTEXT = PolicyContext.of(REQUEST)

pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")


@pytest.fixture(scope="module")
def index() -> CatalogIndex:
    return CatalogIndex(load_folder_snapshot(CATALOG, strict=False))


def test_a_request_without_constraints_has_the_default_context() -> None:
    assert CONTEXT == DEFAULT_CONTEXT


def test_tools_ruled_ahead_are_ruled_as_a_request_would_rule_them(index: CatalogIndex) -> None:
    ahead, fresh = Rulings(index), Rulings(index)
    count = len(index.tools)
    assert rule_ahead(count, lambda: ahead, threading.Event()) == count
    assert rule_ahead(count, lambda: ahead, threading.Event()) == 0  # each tool once
    for i in range(count):
        kept = ahead.ruling(i, REQUEST, CONTEXT)
        assert kept == fresh.ruling(i, REQUEST, CONTEXT)
        assert ahead.ruling(i, REQUEST, CONTEXT) is kept  # ruled once, not per request
    # Each tool's patterns were tabled too (a small catalog): a request finds them made.
    several = [i for i in range(count) if index.pattern_start[i + 1] - index.pattern_start[i] > 1]
    assert index.pattern_tables.tables.keys() == set(several)


def test_the_rulings_kept_are_bounded_and_a_dropped_one_is_ruled_again_alike(
    index: CatalogIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past KEPT_MAX_TOOLS tools under one constraint set the oldest ruled is dropped: a
    long run of varied requests on a large catalog holds a bounded number of rulings, and a
    tool pooled again is ruled as before."""
    monkeypatch.setattr(rulings_module, "KEPT_MAX_TOOLS", 5)
    monkeypatch.setattr(rulings_module, "KEPT_MAX_PATTERNS", 7)
    kept, fresh = Rulings(index), Rulings(index)
    count = len(index.tools)
    assert count > 10
    first = [kept.ruling(i, REQUEST, CONTEXT) for i in range(count)]
    assert len(kept._rulings[CONTEXT]) == 5
    assert list(kept._rulings[CONTEXT]) == list(range(count - 5, count))  # the last ruled
    assert kept.ruling(count - 1, REQUEST, CONTEXT) is first[-1]  # still kept
    again = kept.ruling(0, REQUEST, CONTEXT)  # dropped: ruled again
    assert again is not first[0]
    assert again == first[0] == fresh.ruling(0, REQUEST, CONTEXT)
    assert len(kept._rulings[CONTEXT]) == 5
    assert len(kept._default_estimates) == 7


def test_ruling_ahead_stops_when_the_index_is_replaced_or_the_selector_closes(
    index: CatalogIndex,
) -> None:
    rulings = Rulings(index)
    answers = iter([rulings, None])
    assert rule_ahead(len(index.tools), lambda: next(answers), threading.Event()) == AHEAD_SLICE
    closing = threading.Event()
    closing.set()
    assert rule_ahead(len(index.tools), lambda: rulings, closing) == 0


def test_ruling_ahead_after_a_write_walks_only_the_tools_not_ruled(
    index: CatalogIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A derived index's rulings hold every unchanged tool's: ruling ahead rules the changed
    ones in one slice, instead of a slice (and a hand-over of the GIL) per AHEAD_SLICE tools
    of the catalog; a new observation meanwhile has its own missing tools ruled."""
    monkeypatch.setattr(rulings_module, "TABLE_AHEAD_MAX_TOOLS", 0)  # no tables to walk
    count = len(index.tools)
    assert count > 4 * AHEAD_SLICE
    rulings = Rulings(index)
    assert rule_ahead(count, lambda: rulings, threading.Event()) == count
    changed = [2, count // 2, count - 1]
    carried = rulings.carried(index, changed)
    slices = []

    def current() -> Rulings:
        slices.append(carried)
        return carried

    assert rule_ahead(count, current, threading.Event()) == len(changed)
    assert len(slices) == 2  # one slice, then nothing left
    fresh = Rulings(index)
    for i in range(count):
        assert carried.ruling(i, REQUEST, CONTEXT) == fresh.ruling(i, REQUEST, CONTEXT)
    assert len(carried._rulings[DEFAULT_CONTEXT]) == count

    # The rulings replaced after the first slice (a new reading of telemetry that dropped
    # three more tools): the first's three are ruled, then the six the new ones lack.
    first = rulings.carried(index, changed)
    second = first.carried(index, [0, 1, 5])
    answers = iter([first, second, second, second])
    assert rule_ahead(count, lambda: next(answers), threading.Event()) == 3 + 6
    assert second.unruled(count) == []
    assert first.unruled(count) == []


def test_a_new_reading_of_telemetry_keeps_the_rulings_of_tools_it_did_not_change(
    index: CatalogIndex,
) -> None:
    df, du = ("df", "disk_usage", "summary"), ("du", "directory_size", "deep_scan")
    first = ObservedProfiles({df: observed_stats(40, 40, 500, 900)}, ProfileRules())
    rulings = Rulings(index, first)
    p = index.tool_position
    kept = {name: rulings.ruling(p[name], REQUEST, CONTEXT) for name in ("df", "du", "lsof")}

    # The same figures in a new object: everything stays.
    again = rulings.recalibrated(ObservedProfiles(dict(first.stats), ProfileRules()))
    assert all(again.ruling(p[n], REQUEST, CONTEXT) is r for n, r in kept.items())

    # du's figures are new: du is ruled again under them, the others stay.
    second = ObservedProfiles(
        {**first.stats, du: observed_stats(40, 10, 90_000, 120_000)}, ProfileRules()
    )
    later = again.recalibrated(second)
    assert later.ruling(p["df"], REQUEST, CONTEXT) is kept["df"]
    assert later.ruling(p["lsof"], REQUEST, CONTEXT) is kept["lsof"]
    du_now = later.ruling(p["du"], REQUEST, CONTEXT)
    assert du_now is not kept["du"]
    assert du_now == Rulings(index, second).ruling(p["du"], REQUEST, CONTEXT)
    assert du_now != kept["du"]  # its failures made it unreliable

    # Other rules may change any tool's ruling: none is kept.
    stricter = ObservedProfiles(dict(second.stats), ProfileRules(min_samples=100))
    assert later.recalibrated(stricter).ruling(p["df"], REQUEST, CONTEXT) is not kept["df"]
    # No reading at all: the tools that had figures are ruled again.
    bare = later.recalibrated(None)
    assert bare.ruling(p["lsof"], REQUEST, CONTEXT) is kept["lsof"]
    assert bare.ruling(p["df"], REQUEST, CONTEXT) == Rulings(index).ruling(
        p["df"], REQUEST, CONTEXT
    )


def test_rulings_carried_to_a_later_generation_drop_only_the_changed_tools(
    index: CatalogIndex,
) -> None:
    """Rulings.carried keeps every other tool's rulings (the same objects, under each
    constraint set, in the order they were ruled) and its patterns' estimates, and drops the
    changed tools' and their patterns'."""
    rulings = Rulings(index, None)
    production = {"environment": "production"}
    other = PolicyContext.of(SelectionRequest(request="x", constraints=production))
    for i in range(len(index.tools)):
        rulings.rule_default(i)
        if i % 3 == 0:
            rulings.ruling(i, SelectionRequest(request="x", constraints=production), other)
    changed = [1, 6, len(index.tools) - 1]
    carried = rulings.carried(index, changed)
    for ctx, held in rulings._rulings.items():
        kept = carried._rulings[ctx]
        assert list(kept) == [i for i in held if i not in changed]
        assert all(kept[i] is held[i] for i in kept)
    starts = index.pattern_start
    gone = {j for i in changed for j in range(int(starts[i]), int(starts[i + 1]))}
    assert gone
    assert set(carried._default_estimates) == set(rulings._default_estimates) - gone
    assert len(rulings._rulings[DEFAULT_CONTEXT]) == len(index.tools)  # its own untouched


def _ruled(enumerator: CandidateEnumerator) -> int:
    """How many tools the enumerator's rulings hold under the default constraints."""
    return len(enumerator.rulings._rulings.get(DEFAULT_CONTEXT, {}))


def test_a_selector_rules_its_catalog_ahead_of_the_requests() -> None:
    snapshot = load_folder_snapshot(CATALOG, strict=False)
    selector = Selector(FixedSource(snapshot), Settings(llm_url=None, semantic=False))
    enumerator = selector.enumerator_for(snapshot)
    deadline = time.monotonic() + 60
    while _ruled(enumerator) < len(snapshot.tools) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ruled(enumerator) == len(snapshot.tools)
    assert selector.select(REQUEST).decision is not None
    assert _ruled(enumerator) == len(snapshot.tools)
