"""Duration buckets: percentiles read from summed counts stay close to the exact ones."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.model.telemetry import (
    BUCKETS,
    DURATION_BOUNDS_MS,
    MAX_DURATION_MS,
    add_counts,
    bucket_of,
    quantile_ms,
)


def counts_of(durations: list[float]) -> list[int]:
    counts = [0] * BUCKETS
    for d in durations:
        counts[bucket_of(d)] += 1
    return counts


@given(st.lists(st.floats(min_value=1.0, max_value=MAX_DURATION_MS), min_size=1, max_size=200))
def test_a_percentile_from_buckets_is_within_a_bucket_of_the_exact_one(
    durations: list[float],
) -> None:
    ordered = sorted(durations)
    for q in (0.5, 0.95):
        exact = ordered[max(math.ceil(q * len(ordered)) - 1, 0)]
        read = quantile_ms(q, counts_of(durations))
        assert exact / 2**0.25 <= read <= exact * 2**0.25


def test_every_duration_up_to_the_maximum_has_a_bucket() -> None:
    assert bucket_of(0.0) == 0
    assert bucket_of(MAX_DURATION_MS) < BUCKETS
    assert DURATION_BOUNDS_MS[bucket_of(MAX_DURATION_MS)] > MAX_DURATION_MS


def test_counts_add_whatever_their_lengths() -> None:
    total = [1, 2]
    add_counts(total, [1, 1, 5])
    assert total == [2, 3, 5]
    assert quantile_ms(0.5, [0] * BUCKETS) == 0.0
