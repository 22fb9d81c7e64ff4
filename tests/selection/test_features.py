"""Estimates from expressions, the execution hint, the SLA class and the score's dimensions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from toolcatalog.model.pattern import Pattern
from toolcatalog.selection.features import cost_score, estimate_pattern, speed_score
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import Mode, SelectionRequest
from toolcatalog.selection.scoring import (
    final_score,
    infer_mode,
    mode_weights,
    preference_share,
    resolve_preferences,
)


def _pattern(profile: dict[str, Any], policy: dict[str, Any] | None = None) -> Pattern:
    return Pattern.model_validate(
        {
            "name": "scan",
            "description": "Scan files.",
            "inputs": {
                "type": "object",
                "properties": {"files": {"type": "integer", "default": 1000}},
            },
            "profile": profile,
            "policy": policy or {},
        }
    )


def test_expressions_use_request_inputs_over_declared_defaults() -> None:
    pattern = _pattern({"time_estimate_ms": "200 + 0.02 * files", "cost_estimate": "files / 500"})
    default = estimate_pattern(pattern, {})
    assert (default.time_ms, default.cost) == (220.0, 2.0)
    given = estimate_pattern(pattern, {"files": 200_000})
    assert (given.time_ms, given.cost) == (4200.0, 400.0)


def test_a_failing_expression_gives_an_unknown_estimate_not_an_error() -> None:
    # The model refuses an expression that fails at the declared defaults; a request's
    # inputs can still make it fail.
    pattern = _pattern({"time_estimate_ms": "100 / (2000 - files)"})
    estimate = estimate_pattern(pattern, {"files": 2000})
    assert estimate.time_ms is None
    assert estimate.sla == "batch"
    assert "division by zero" in estimate.problems[0]


@pytest.mark.parametrize(
    "source",
    ["__import__('os').system('id')", "files.__class__", "open('/etc/passwd')", "lambda: 1"],
)
def test_an_unsafe_expression_is_refused_at_validation(source: str) -> None:
    with pytest.raises(ValidationError):
        _pattern({"time_estimate_ms": source})


def test_without_inputs_every_starter_pattern_gets_what_the_full_evaluation_gives() -> None:
    # A name no pattern declares is left out of the evaluation (check_inputs), so it asks for
    # the full evaluation with the same values: the kept estimates at the defaults must agree.
    catalog = load_folder_snapshot(Path(__file__).resolve().parents[2] / "catalog", strict=False)
    patterns = [p for t in catalog.tools for c in t.capabilities for p in c.patterns]
    assert patterns
    for pattern in patterns:
        plain, full = estimate_pattern(pattern, {}), estimate_pattern(pattern, {"no_such": 1})
        assert plain == full, pattern.name
        assert (type(plain.time_ms), type(plain.cost)) == (type(full.time_ms), type(full.cost))


def test_without_inputs_problems_and_conditions_are_still_reported() -> None:
    required = Pattern.model_validate(
        {
            "name": "scan",
            "description": "Scan files.",
            "inputs": {
                "type": "object",
                "properties": {"files": {"type": "integer"}, "depth": {"type": "integer"}},
                "required": ["depth"],
            },
            "profile": {"time_estimate_ms": "200 + 0.02 * files"},
        }
    )
    estimate = estimate_pattern(required, {})
    assert estimate.time_ms is None
    assert any("files" in p for p in estimate.problems)
    assert any("inputs.depth: required" in p for p in estimate.problems)
    forced = _pattern({"time_estimate_ms": 100}, {"requires_background_if": "files >= 1000"})
    assert estimate_pattern(forced, {}).forced_background


def test_background_when_slow_or_when_the_condition_holds() -> None:
    slow = estimate_pattern(_pattern({"time_estimate_ms": 6000}), {})
    assert slow.execution == "background"
    assert slow.sla == "batch"
    conditional = _pattern({"time_estimate_ms": 100}, {"requires_background_if": "files > 5000"})
    assert estimate_pattern(conditional, {}).execution == "inline"
    assert estimate_pattern(conditional, {"files": 9000}).execution == "background"


@pytest.mark.parametrize(
    ("ms", "sla"), [(999, "interactive"), (1000, "batch"), (9999, "batch"), (10_000, "background")]
)
def test_sla_classes(ms: float, sla: str) -> None:
    assert estimate_pattern(_pattern({"time_estimate_ms": ms}), {}).sla == sla


def test_time_is_normalised_on_a_log_scale_between_50_ms_and_60_s() -> None:
    assert speed_score(10) == speed_score(50) == 1.0
    assert speed_score(60_000) == speed_score(600_000) == 0.0
    middle = (50 * 60_000) ** 0.5
    assert speed_score(middle) == pytest.approx(0.5)


def test_cost_is_scored_on_an_absolute_log_scale_between_its_anchors() -> None:
    assert cost_score(0.0) == 1.0
    assert cost_score(1.0) == 1.0
    assert cost_score(10.0) == pytest.approx(0.5)
    assert cost_score(100.0) == 0.0
    assert cost_score(1e6) == 0.0
    assert cost_score(None) == 0.5
    assert abs(cost_score(1.0) - cost_score(1.2)) < 0.05


def test_balanced_weights_are_equal_and_a_mode_leads_its_dimension() -> None:
    assert mode_weights(Mode.balanced).speed == 0.2
    fast = mode_weights(Mode.fast)
    assert fast.speed > 0.5
    assert fast.speed + 4 * fast.accuracy == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("quick check of the disk", Mode.fast),
        ("just a rough idea of memory use", Mode.fast),
        ("I need the exact count", Mode.accurate),
        ("give me a full report of everything", Mode.thorough),
        ("the cheaper log store please", Mode.cheap),
        ("easiest way to open the port", Mode.simple),
        ("restart nginx", None),
    ],
)
def test_preferences_are_inferred_from_cues(text: str, mode: Mode | None) -> None:
    assert infer_mode(text) == mode


def test_explicit_preferences_win_over_cues() -> None:
    request = SelectionRequest.model_validate(
        {"request": "quick look", "preferences": {"mode": "thorough"}}
    )
    used = resolve_preferences(request)
    assert used.mode == Mode.thorough
    assert used.source == "request"


def test_preferences_cannot_lift_a_much_less_relevant_tool_over_the_top_one() -> None:
    assert final_score(1.0, 0.0) > final_score(0.7, 1.0)
    assert final_score(0.95, 1.0) > final_score(1.0, 0.3)


def test_with_no_stated_preference_a_cheaper_faster_profile_does_not_outweigh_relevance() -> None:
    # du answers "what directory is eating the disk" (relevance 1, utility 0.75); df is fast
    # and cheap but less relevant (0.96, utility 0.91): only a stated preference may flip it.
    default = resolve_preferences(SelectionRequest.model_validate({"request": "which dir is big"}))
    stated = resolve_preferences(
        SelectionRequest.model_validate({"request": "x", "preferences": {"mode": "fast"}})
    )
    assert preference_share(default) < preference_share(stated)
    share = preference_share(default)
    assert final_score(1.0, 0.75, share) > final_score(0.96, 0.91, share)
