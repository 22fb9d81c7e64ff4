"""The request against the catalog: inputs checked against the patterns' schemas, unknown tools
and all-zero weights refused, and `warnings` for what had no effect (`strict` refuses them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from toolcatalog.config import Settings
from toolcatalog.errors import InvalidDefinition
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, write_catalog

SCANNER = """
name: table_scan
description: Scans a database table row by row to count and check its rows.
platform: linux
category: database
examples: [scan the orders table, count the rows of a table]
capabilities:
  - name: table_check
    description: Check a table's rows.
    patterns:
      - name: full_scan
        description: Read every row of the table.
        inputs:
          type: object
          required: [table]
          properties:
            table: {type: string}
            rows: {type: integer, minimum: 0, default: 1000}
        profile: {time_estimate_ms: "10 + 0.01 * rows", cost_estimate: "1 + rows / 1000",
                  accuracy: 1.0, completeness: 1.0}
        policy: {production_safe: true, max_execution_time_ms: 60000}
      - name: sample
        description: Read a sample of the table's rows.
        profile: {time_estimate_ms: 100, cost_estimate: 1, accuracy: 0.5, completeness: 0.2}
        policy: {production_safe: true}
"""


@pytest.fixture
def checked(tmp_path: Path) -> Selector:
    folder = write_catalog(tmp_path / "catalog", {**CATALOG, "database/scan.yaml": SCANNER})
    return Selector(FolderSource(folder, check_interval_s=0), Settings(llm_url=None))


def _select(selector: Selector, **fields: object) -> SelectionResult:
    return selector.select(SelectionRequest.model_validate(fields))


SCAN = "scan the orders table row by row, every row"


def test_a_misspelt_input_is_a_warning_naming_the_closest_input(checked: Selector) -> None:
    result = _select(checked, request=SCAN, inputs={"row": 1e7, "table": "orders"})
    assert any(w.startswith("inputs.row: no pattern") and "rows" in w for w in result.warnings), (
        result.warnings
    )
    assert result.decision is not None
    assert result.candidates[0].estimates.time_ms == 20  # the default 1000 rows


def test_a_negative_input_is_refused_by_the_minimum_and_the_default_stands(
    checked: Selector,
) -> None:
    result = _select(checked, request=SCAN, inputs={"rows": -1e6, "table": "orders"}, top_k=10)
    full = next(c for c in result.candidates if c.pattern == "full_scan")
    assert full.estimates.time_ms == 20
    assert full.estimates.cost == 2
    assert any("below the minimum 0" in r for r in full.reasons)
    assert any("inputs.rows: -1000000.0 below the minimum 0" in w for w in result.warnings)


def test_a_value_of_the_wrong_type_and_a_missing_required_input_are_warnings(
    checked: Selector,
) -> None:
    result = _select(checked, request=SCAN, inputs={"rows": 2.5}, top_k=10)
    assert result.decision is not None
    assert result.decision.pattern == "full_scan"
    assert any("inputs.rows: 2.5 is not of type integer" in w for w in result.warnings)
    assert "inputs.table: required by table_scan.full_scan and not given" in result.warnings


def test_strict_turns_the_warnings_into_a_refusal_with_paths(checked: Selector) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _select(checked, request=SCAN, inputs={"row": 5, "table": "orders"}, strict=True)
    assert [p.path for p in caught.value.problems] == ["inputs.row"]
    clean = _select(checked, request=SCAN, inputs={"rows": 5, "table": "orders"}, strict=True)
    assert clean.warnings == []


def test_a_pattern_pushed_past_its_own_time_limit_is_named_in_the_reasons(
    checked: Selector,
) -> None:
    result = _select(checked, request=SCAN, inputs={"rows": 1e8, "table": "orders"})
    assert result.decision is not None
    assert result.decision.pattern == "sample"
    note = [r for r in result.candidates[0].reasons if "table_scan.full_scan excluded" in r]
    assert note
    assert "max_execution_time_ms 60000" in note[0]


def test_an_unknown_tool_in_include_tools_is_refused_with_the_closest_names(
    checked: Selector,
) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _select(checked, request=SCAN, constraints={"include_tools": ["table_scna"]})
    problem = caught.value.problems[0]
    assert problem.path == "constraints.include_tools[0]"
    assert "closest: table_scan" in problem.message


def test_an_unknown_tool_in_exclude_tools_is_a_warning(checked: Selector) -> None:
    result = _select(checked, request=SCAN, constraints={"exclude_tools": ["dff"]})
    assert any("constraints.exclude_tools[0]" in w and "df" in w for w in result.warnings)


def test_all_zero_weights_are_refused() -> None:
    zero = {"speed": 0, "accuracy": 0, "cost": 0, "complexity": 0, "completeness": 0}
    with pytest.raises(ValidationError, match="all weights are 0"):
        SelectionRequest.model_validate({"request": "x", "preferences": {"weights": zero}})


def test_weights_with_a_mode_say_the_weights_decided_and_warn_about_the_mode(
    selector: Selector,
) -> None:
    result = _select(
        selector,
        request="how much disk space is used on the server",
        preferences={"mode": "fast", "weights": {"completeness": 1}},
    )
    assert result.preferences_used.mode is None
    assert result.preferences_used.source == "request"
    assert "preferences.weights from the request decided" in result.candidates[0].reasons[1]
    assert any(w.startswith("preferences.mode: 'fast' is ignored") for w in result.warnings)
    named = _select(
        selector, request="how much disk space is used on the server", preferences={"mode": "fast"}
    )
    assert named.candidates[0].reasons[1].startswith("mode fast (request) decided")
    assert named.warnings == []


def test_patterns_all_lists_every_pattern_of_the_top_tools(selector: Selector) -> None:
    text = "request rate of the checkout api"
    best = _select(selector, request=text, top_k=1)
    every = _select(selector, request=text, top_k=1, patterns="all")
    assert [c.pattern for c in best.candidates] == ["instant_query"]
    assert [c.pattern for c in every.candidates] == ["instant_query", "range_query"]
    assert every.decision == best.decision


def test_the_decision_names_its_tools_other_patterns_and_why_they_lost(
    selector: Selector,
) -> None:
    fast = _select(
        selector, request="request rate of the checkout api", preferences={"mode": "fast"}
    )
    lost = [r for r in fast.candidates[0].reasons if r.startswith("other pattern range_query")]
    assert lost
    assert "suits mode fast less" in lost[0]
    production = _select(
        selector,
        request="is nginx running",
        constraints={"environment": "production", "require_production_safe": True},
    )
    assert production.decision is not None
    assert production.decision.pattern == "status"
    assert any(
        r.startswith("other pattern restart excluded: not production_safe")
        for r in production.candidates[0].reasons
    )


def test_hostile_requests_are_bounded(checked: Selector) -> None:
    many = {f"rowz{i}": 1 for i in range(50)}
    result = _select(checked, request=SCAN, inputs=many)
    unknown = [w for w in result.warnings if "no pattern in the catalog declares" in w]
    assert len(unknown) == 50
    assert sum("did you mean" in w for w in unknown) <= 10  # suggestions cost CPU: capped
    with pytest.raises(ValidationError, match="at most 200"):
        SelectionRequest.model_validate(
            {"request": SCAN, "inputs": {f"x{i}": 1 for i in range(201)}}
        )
