"""Decisions are independent of irrelevant alternatives: over the starter catalog, removing
candidates that did not win (exclude_tools, or include_tools of the winner alone) never changes
the decided tool or pattern, whatever the preference. Time and cost are scored on absolute
scales (features.speed_score, features.cost_score), never relative to the candidates in play."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import starter_definitions
from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
MODES = [None, "fast", "balanced", "accurate", "thorough", "cheap", "simple"]

pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in checkout")


@cache
def _selector() -> Selector:
    return Selector(FolderSource(CATALOG), Settings(llm_url=None, semantic=False))


@cache
def _requests() -> list[str]:
    tools, _ = starter_definitions()
    return sorted({example for tool in tools for example in tool.examples})


def _decide(text: str, mode: str | None, **constraints: list[str]) -> tuple[str, str] | None:
    request = SelectionRequest.model_validate(
        {
            "request": text,
            "preferences": {"mode": mode} if mode else None,
            "constraints": constraints,
            "top_k": 10,
        }
    )
    result = _selector().select(request)
    decision = result.decision
    return None if decision is None else (decision.tool, decision.pattern)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(MODES),
    st.data(),
)
def test_removing_candidates_that_did_not_win_never_changes_the_decision(
    pick: int, mode: str | None, data: st.DataObject
) -> None:
    requests = _requests()
    text = requests[pick % len(requests)]
    everything = _selector().select(
        SelectionRequest.model_validate(
            {"request": text, "preferences": {"mode": mode} if mode else None, "top_k": 10}
        )
    )
    if everything.decision is None:
        return
    winner = (everything.decision.tool, everything.decision.pattern)
    losers = sorted({c.tool for c in everything.candidates} - {winner[0]})
    removed = data.draw(st.lists(st.sampled_from(losers), unique=True) if losers else st.just([]))
    assert _decide(text, mode, exclude_tools=removed) == winner, (text, mode, removed)
    assert _decide(text, mode, include_tools=[winner[0]]) == winner, (text, mode)
