"""Checking a batch of reported events, whatever a client sends: every event is either
accepted or rejected with its own index and a reason, and nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_tool
from toolcatalog.catalog.telemetry import check_events, labels_of
from toolcatalog.model.snapshot import CatalogSnapshot

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LABELS = labels_of(CatalogSnapshot((make_tool("alpha_tool"),), 1, NOW))
GOOD = {
    "tool": "alpha_tool",
    "capability": "process_list",
    "pattern": "snapshot",
    "duration_ms": 5,
    "success": True,
}
values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=6,
)
events = st.one_of(
    values,
    st.fixed_dictionaries({}, optional=dict.fromkeys([*GOOD, "error", "at", "cost"], values)),
    st.builds(lambda k, v: {**GOOD, k: v}, st.sampled_from([*GOOD, "error", "at", "cost"]), values),
    st.just(GOOD),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=20))
def test_each_event_is_accepted_or_rejected_once_by_its_index(batch: list[Any]) -> None:
    rows, rejected = check_events(batch, LABELS, NOW, NOW - timedelta(days=90), "r")
    indices = [r.index for r in rejected]
    assert len(rows) + len(rejected) == len(batch)
    assert len(set(indices)) == len(indices)
    assert all(0 <= i < len(batch) and r.reason for i, r in zip(indices, rejected, strict=True))
    assert len(rows) >= sum(e == GOOD for e in batch)
