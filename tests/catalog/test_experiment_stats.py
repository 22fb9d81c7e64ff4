"""The experiment report's statistics against values worked out by hand."""

from __future__ import annotations

import pytest

from toolcatalog.catalog.experiment_stats import (
    mann_whitney,
    median_interval,
    two_proportions,
    wilson,
)


def test_the_wilson_interval_of_a_known_rate() -> None:
    low, high = wilson(8, 10) or (0, 0)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 0) is None
    assert wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)


def test_two_proportions_far_apart_differ_and_equal_ones_do_not() -> None:
    assert (two_proportions(90, 100, 55, 100) or 1) < 0.001
    assert two_proportions(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportions(5, 9, 1, 9) is None  # too few to test


def test_the_median_and_its_interval_come_from_order_statistics() -> None:
    values = [float(v) for v in range(1, 101)]
    median, low, high = median_interval(values) or (0, 0, 0)
    assert median == 50.5
    assert low < median < high
    assert (low, high) == (41.0, 60.0)
    assert median_interval([]) is None


def test_mann_whitney_tells_shifted_samples_from_the_same_one() -> None:
    a = [float(v) for v in range(30)]
    assert (mann_whitney(a, [v + 20 for v in a]) or 1) < 0.001
    assert (mann_whitney(a, list(a)) or 0) > 0.9
    assert mann_whitney(a[:5], a) is None
