"""analytics.profile_drift walks only the tools with a pattern of enough events (it runs on
the event loop every minute): the answer is the one a walk of every pattern gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from toolcatalog.catalog import analytics
from toolcatalog.model.telemetry import ObservedStats, PatternKey
from toolcatalog.selection.loader import load_folder_snapshot

CATALOG = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")


def stats(samples: int, p50: float) -> ObservedStats:
    return ObservedStats(samples, samples - 1, p50, 3 * p50, p50, None, 0)


def test_the_drift_lists_every_pattern_with_enough_events_and_no_other() -> None:
    snapshot = load_folder_snapshot(CATALOG, strict=False)
    keys = [
        PatternKey(t.name, c.name, p.name)
        for t in snapshot.tools
        for c in t.capabilities
        for p in c.patterns
    ]
    rng = random.Random(5)
    observed = {
        k: stats(rng.choice([1, 4, 5, 30]), rng.uniform(1, 9000)) for k in rng.sample(keys, 60)
    }
    # A pattern the catalog no longer has (its tool gone, or renamed) is not listed.
    observed[PatternKey("no_such_tool", "x", "y")] = stats(30, 10.0)
    got = analytics.profile_drift(snapshot, observed, 5)
    want = {k for k, s in observed.items() if s.samples >= 5 and k.tool != "no_such_tool"}
    assert {d.key for d in got} == want
    assert len(got) == len(want)
    order = [(d.time_ratio is None, -d.wrongness, d.key) for d in got]
    assert order == sorted(order)
    assert analytics.profile_drift(snapshot, {}, 5) == []
