"""Calibrated profiles: telemetry's observed figures blended with the declared estimate by
the shrinkage rule (selection/profiles.py), used by selection and shown in `estimates`."""

from __future__ import annotations

import math

import pytest

from toolcatalog.model.telemetry import ObservedStats
from toolcatalog.selection.models import Candidate, SelectionRequest
from toolcatalog.selection.profiles import ObservedProfiles, ProfileRules
from toolcatalog.selection.selector import Selector

from .observed import observed_stats

DISK = "is the disk full"


def _candidate(selector: Selector, tool: str, **fields: object) -> Candidate:
    request = SelectionRequest.model_validate({"request": DISK, "top_k": 5, **fields})
    found = [c for c in selector.select(request).candidates if c.tool == tool]
    assert found, f"{tool} is not among the candidates"
    return found[0]


def _observe(selector: Selector, key: tuple[str, str, str], seen: ObservedStats) -> None:
    selector.observed = ObservedProfiles({key: seen}, ProfileRules())


DF = ("df", "disk_usage", "summary")
DU = ("du", "directory_size", "deep_scan")


def test_without_telemetry_every_estimate_is_the_declaration(selector: Selector) -> None:
    est = _candidate(selector, "df").estimates
    assert (est.time_ms, est.source, est.samples) == (50, "declared", 0)


def test_fewer_runs_than_the_minimum_keep_the_declaration(selector: Selector) -> None:
    _observe(selector, DF, observed_stats(4, 4, p50_ms=5000, p95_ms=6000))
    est = _candidate(selector, "df").estimates
    assert (est.time_ms, est.source, est.samples) == (50, "declared", 4)


def test_runs_are_blended_with_the_declaration_by_their_number(selector: Selector) -> None:
    _observe(selector, DF, observed_stats(20, 20, p50_ms=500, p95_ms=900))
    est = _candidate(selector, "df").estimates
    # w = 20 / (20 + 20) = 0.5: 50 * (500 / 50) ** 0.5
    assert est.time_ms == pytest.approx(50 * math.sqrt(10), rel=1e-4)
    assert (est.source, est.samples, est.declared_time_ms) == ("blended", 20, 50)
    assert (est.observed_p50_ms, est.observed_p95_ms, est.success_rate) == (500, 900, 1.0)
    assert any(
        "blended: declared 50 ms, observed p50 500 ms over 20 runs" in r
        for r in _candidate(selector, "df").reasons
    )


def test_many_runs_replace_the_declaration(selector: Selector) -> None:
    _observe(selector, DF, observed_stats(2000, 2000, p50_ms=500, p95_ms=900))
    est = _candidate(selector, "df").estimates
    assert est.source == "observed"
    assert est.time_ms == pytest.approx(50 * 10 ** (2000 / 2020), rel=1e-4)


def test_observed_figures_scale_a_declared_expression_for_every_input(
    selector: Selector,
) -> None:
    # du's time is "500 + 0.05 * files" (10,500 ms at its default 200,000 files): runs twice as
    # slow as that declaration make a 2,000-file request's estimate about twice its 600 ms.
    _observe(selector, DU, observed_stats(380, 380, p50_ms=21_000, p95_ms=30_000))
    est = _candidate(selector, "du", inputs={"files": 2000}).estimates
    assert est.source == "observed"
    assert est.time_ms == pytest.approx(600 * 2 ** (380 / 400), rel=1e-4)


def test_observed_cost_is_blended_by_its_own_samples(selector: Selector) -> None:
    _observe(selector, DF, observed_stats(20, 20, 50, 60, cost_mean=4.0, cost_samples=20))
    assert _candidate(selector, "df").estimates.cost == pytest.approx(1 * 4**0.5, rel=1e-4)


def test_a_pattern_failing_too_often_is_flagged_and_scores_lower(selector: Selector) -> None:
    before = _candidate(selector, "df")
    _observe(selector, DF, observed_stats(40, 20, p50_ms=50, p95_ms=60))
    after = _candidate(selector, "df")
    assert after.score < before.score
    assert any(
        r.startswith("unreliable: observed success rate 50% over 40 runs") for r in after.reasons
    )
    assert after.estimates.success_rate == 0.5


def test_slower_than_declared_moves_the_pattern_to_the_background(selector: Selector) -> None:
    _observe(selector, DF, observed_stats(400, 400, p50_ms=60_000, p95_ms=90_000))
    df = _candidate(selector, "df")
    assert df.execution == "background"
    assert df.sla == "background"


def test_a_new_observation_reuses_the_index(selector: Selector) -> None:
    _candidate(selector, "df")
    index = selector.enumerator_for(selector.loader.snapshot()).index
    _observe(selector, DF, observed_stats(20, 20, p50_ms=500, p95_ms=900))
    assert _candidate(selector, "df").estimates.source == "blended"
    assert selector.enumerator_for(selector.loader.snapshot()).index is index
    selector.observed = None
    assert _candidate(selector, "df").estimates.source == "declared"
