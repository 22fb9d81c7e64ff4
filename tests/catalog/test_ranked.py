"""catalog/ranked.Ranked: a ranking held as arrays with pairs merged in reads, page by page, as
the whole list of (rank, name) sorted best first would, ties, removals and merges included."""

from __future__ import annotations

import random

import numpy as np
import pytest

from toolcatalog.catalog.ranked import Ranked

# ts_rank's values are float4s: few distinct ones, so ties by the hundred.
RANKS = [float(np.float32(x)) for x in (0.0607927, 0.0759909, 0.1, 1e-20, 0.0303964)]


def _ranked(rng: random.Random) -> tuple[Ranked, list[tuple[float, str]], tuple[str, ...]]:
    """A Ranked of random tools (some in the arrays, some as extras) and the same as a list."""
    names = tuple(sorted(f"tool_{rng.randrange(10**6):06d}" for _ in range(rng.randint(0, 400))))
    names = tuple(sorted(set(names)))
    every = [(rng.choice(RANKS), n) for n in names if rng.random() < 0.8]
    apart = [item for item in every if rng.random() < 0.1]
    # Extras may also be tools the names do not hold (put since the arrays were made).
    apart += [(rng.choice(RANKS), f"new_{i:03d}") for i in range(rng.randint(0, 5))]
    in_arrays = sorted(set(every) - set(apart), reverse=True)
    index = {n: i for i, n in enumerate(names)}
    lowered = np.array([-r for r, _ in in_arrays], dtype=np.float32)
    tools = np.array([index[n] for _, n in in_arrays], dtype=np.int32)
    ranked = Ranked(lowered, tools, names, sorted(apart, reverse=True))
    return ranked, sorted([*in_arrays, *apart], reverse=True), names


@pytest.mark.parametrize("seed", range(40))
def test_pages_of_a_ranking_with_pairs_merged_in_are_the_sorted_lists(seed: int) -> None:
    rng = random.Random(seed)
    ranked, expected, names = _ranked(rng)
    assert len(ranked) == len(expected)
    assert list(ranked) == expected
    for _ in range(30):
        begin = rng.randint(-5, len(expected) + 5)
        size = rng.randint(0, 60)
        assert ranked[begin : begin + size] == expected[begin : begin + size]
    for i in rng.sample(range(-len(expected), len(expected)), min(20, 2 * len(expected))):
        assert ranked[i] == expected[i]
    with pytest.raises(IndexError):
        ranked[len(expected)]
    assert ranked[::7] == expected[::7]
    gone = {n for _, n in rng.sample(expected, min(len(expected), rng.randint(0, 30)))}
    gone |= {"absent", "tool_", *rng.sample(names, min(len(names), 3))}
    left = [item for item in expected if item[1] not in gone]
    assert list(ranked.without(gone)) == left
    came = [(rng.choice(RANKS), n) for n in gone if rng.random() < 0.5]
    again = ranked.without(gone).merged(came)
    whole = sorted([*left, *came], reverse=True)
    assert list(again) == whole
    assert [again[i] for i in range(len(whole))] == whole


def test_a_ranking_of_pairs_only_reads_as_its_list() -> None:
    found = [(0.1, "b"), (0.1, "a"), (0.05, "c")]
    ranked = Ranked.of(found)
    assert list(ranked) == found
    assert ranked[1:] == found[1:]
    assert ranked[-1] == found[-1]
    assert list(ranked.without({"a"}).merged([(0.2, "z")])) == [(0.2, "z"), (0.1, "b"), (0.05, "c")]
    assert not Ranked.of([])
