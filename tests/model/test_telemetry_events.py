"""Checking a batch of reported events, whatever a client sends: every event is either
accepted or rejected with its own index and a reason, and nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_tool
from toolcatalog.catalog.entries import entry_of
from toolcatalog.catalog.telemetry import HINTS_MAX, check_events, labels_of
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.store.tools import ToolRecord

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TOOL = make_tool("alpha_tool")
ENTRY = entry_of(ToolRecord(1, TOOL.name, 1, '"1"', TOOL.document(), NOW, NOW), TOOL)
LABELS = labels_of(CatalogVersion.build({TOOL.name: ENTRY}, 1, None, None, 0.0))
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


def test_a_batch_names_the_closest_tools_for_its_first_unknown_tools_only() -> None:
    # Each hint compares up to 2,000 known names: a batch of made-up names must stay cheap.
    batch = [{**GOOD, "tool": f"alpha_tol{i}"} for i in range(HINTS_MAX + 5)]
    rows, rejected = check_events(batch, LABELS, NOW, NOW - timedelta(days=90), "r")
    assert rows == []
    assert [r.index for r in rejected] == list(range(len(batch)))
    hinted = ["did you mean alpha_tool" in r.reason for r in rejected]
    assert hinted == [True] * HINTS_MAX + [False] * 5
    assert all(r.reason.startswith(f"unknown tool 'alpha_tol{r.index}'") for r in rejected)
    # A known tool's wrong capability or pattern is always named with its near ones.
    wrong = [{**GOOD, "capability": "process_lst"}] * 3
    _, rejected = check_events(batch + wrong, LABELS, NOW, NOW - timedelta(days=90), "r")
    assert all("did you mean process_list" in r.reason for r in rejected[-3:])
