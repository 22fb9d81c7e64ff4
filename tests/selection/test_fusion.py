"""The pool ranked: how the lexical and semantic sides make it (fusion.fuse, top_indexes)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from toolcatalog.selection import fusion
from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.calibrate import Calibration
from toolcatalog.selection.fusion import SAMPLE_MIN, fuse, top_indexes
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text_vectors import Approximation


class FixedCosines:
    """A request's semantic side with given per-tool cosines (no encoder, no index)."""

    def __init__(self, cosines: FloatArray, calibration: Calibration | None = None) -> None:
        self.cosines = cosines
        self.calibration = calibration

    def scores(self) -> tuple[FloatArray, FloatArray]:
        return self.cosines, self.cosines

    def approximate(self) -> Approximation:
        return Approximation(self.cosines, self.cosines, 0.0, 0.0, self.exact)

    def exact(self, tools: np.ndarray) -> tuple[FloatArray, FloatArray]:
        return self.cosines[tools], self.cosines[tools]


class ApproximateCosines(FixedCosines):
    """As FixedCosines, but the fast scan's answer is off by up to `bound` (as int8 is), and
    `finer` (with a `fine` bound, if given) by up to that; `exact` gives the true scores of
    the tools asked for. Each tier counts the tools it scored; `scores` (the whole exact
    scan) the times it ran."""

    def __init__(
        self, cosines: FloatArray, bound: float, seed: int, fine: float | None = None
    ) -> None:
        super().__init__(cosines)
        self.bound = bound
        self.fine = bound if fine is None else fine
        rng = np.random.default_rng(seed)
        self.noisy = cosines + rng.uniform(-bound, bound, len(cosines))
        self.finer_noisy = cosines + rng.uniform(-self.fine, self.fine, len(cosines))
        self.settled = 0
        self.refined = 0
        self.scanned = 0

    def scores(self) -> tuple[FloatArray, FloatArray]:
        self.scanned += 1
        return super().scores()

    def approximate(self) -> Approximation:
        return Approximation(
            self.noisy.copy(), self.noisy.copy(), self.bound, self.fine, self.finer
        )

    def finer(self, tools: np.ndarray) -> tuple[FloatArray, FloatArray]:
        assert self.fine < self.bound  # a scan without a finer tier is never asked
        self.refined += len(tools)
        return self.finer_noisy[tools], self.finer_noisy[tools]

    def exact(self, tools: np.ndarray) -> tuple[FloatArray, FloatArray]:
        assert (np.diff(tools) > 0).all()  # ascending positions, as TextVectors takes them
        self.settled += len(tools)
        return self.cosines[tools], self.cosines[tools]


def test_a_tool_only_the_meaning_matches_leads_the_pool_when_it_is_the_most_relevant() -> None:
    # A catalog of bare descriptions (meaning weighs 0.65). Tool 0 has none of the request's
    # words but is by far the closest in meaning; the 29 others each share a word or two and
    # are all as far as unrelated text. Ranked by rank alone (each list's position), tool 0
    # was in one list and every other tool in both, so it fell out of a pool of 20 that its
    # relevance puts first.
    tools = 30
    lexical = np.r_[0.0, np.linspace(3.0, 1.0, tools - 1)]
    cosines = np.r_[0.7, np.full(tools - 1, 0.2)]
    world = np.ones(tools, dtype=bool)
    calibration = Calibration(0.3, False, 0.65, 0, None, 0.5)
    semantic = cast(SemanticView, FixedCosines(cosines, calibration))

    order, relevance, best, _ = fuse(semantic, world, lexical, 20)

    assert order[0] == 0
    assert relevance[0] == 1.0
    assert best == 0.7


def test_the_pool_never_leaves_out_a_tool_more_relevant_than_one_it_keeps() -> None:
    rng = np.random.default_rng(7)
    tools = 300
    lexical = np.where(rng.random(tools) < 0.3, rng.random(tools) * 10.0, 0.0)
    cosines = rng.random(tools) * 0.8 - 0.1
    world = rng.random(tools) < 0.9
    semantic = cast(SemanticView, FixedCosines(cosines))

    order, relevance, _, _ = fuse(semantic, world, np.where(world, lexical, 0.0), 20)

    left_out = np.setdiff1d(np.flatnonzero(world), order)
    assert len(order) == 20
    assert relevance[left_out].max() <= relevance[order].min()


@pytest.mark.parametrize("fine", [None, 0.0002])
def test_the_pool_from_approximate_cosines_is_the_pool_from_exact_ones(
    fine: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast scan's cosines are off by up to a bound; the tools that bound leaves in doubt
    # are scored on the finer tier (when there is one), and those its bound leaves in doubt
    # are settled exactly, so the pool, its relevance and the best cosine are the exact ones,
    # while most tools are never settled.
    monkeypatch.setattr(fusion, "FINER_MIN_TOOLS", 0)  # every set in doubt tiered
    rng = np.random.default_rng(11)
    tools = 5000
    for trial in range(20):
        lexical = np.where(rng.random(tools) < 0.05, rng.random(tools) * 10.0, 0.0)
        cosines = np.clip(rng.normal(0.25, 0.1, tools), -1.0, 1.0)
        world = rng.random(tools) < 0.95
        problems = sorted(rng.choice(tools, 3, replace=False).tolist())
        instruments = [int(rng.integers(tools))]
        reference = fuse(
            cast(SemanticView, FixedCosines(cosines)), world, lexical, 20, problems, instruments
        )
        view = ApproximateCosines(cosines, bound=0.01, seed=trial, fine=fine)
        found = fuse(cast(SemanticView, view), world, lexical, 20, problems, instruments)
        assert found[0].tolist() == reference[0].tolist()
        assert found[1][found[0]].tolist() == reference[1][reference[0]].tolist()
        assert found[2] == reference[2]
        assert found[3][found[0]].tolist() == reference[3][reference[0]].tolist()
        assert view.settled < tools / 4
        if fine is not None:
            assert view.settled < view.refined  # the finer tier leaves fewer in doubt


def test_a_pool_whose_cosines_cannot_move_it_is_still_settled() -> None:
    # With no semantic share (a calibration may give none) the cosines move no relevance,
    # but the pool's cosines are read (confidence): its tools are settled all the same.
    tools = 200
    rng = np.random.default_rng(5)
    cosines = rng.random(tools) * 0.6
    lexical = rng.random(tools) * 5.0
    world = np.ones(tools, dtype=bool)
    calibration = Calibration(0.3, False, 0.0, 0, None, 0.5)
    view = ApproximateCosines(cosines, bound=0.01, seed=3, fine=0.001)
    view.calibration = calibration
    order, _, best, tool_cosine = fuse(cast(SemanticView, view), world, lexical, 20)
    assert tool_cosine[order].tolist() == cosines[order].tolist()
    assert best == cosines.max()


@pytest.mark.parametrize("fine", [None, 0.0002])
def test_tools_tied_at_the_cut_whose_cosines_cannot_move_them_are_not_all_settled(
    fine: float | None,
) -> None:
    # Thousands of tools share the best lexical score and sit under the semantic floor at
    # both ends of the bound (bench/scale.py's catalog: tools that differ by a number): all
    # tie at the pool's cut with their exact relevance already known. Only the few the pool
    # takes (ties by index) need their cosines; settling every tie read the whole matrix.
    rng = np.random.default_rng(17)
    tools = 6000
    lexical = np.where(rng.random(tools) < 0.6, 4.0, 0.0)
    lexical[-8:] = 6.0  # the pool's first places, after the ties in position order
    cosines = np.clip(rng.normal(0.0, 0.04, tools), -0.15, 0.15)
    near = rng.choice(tools, 5, replace=False)
    cosines[near] = [0.62, 0.55, 0.5, 0.41, 0.33]  # the meaning picks a few
    world = rng.random(tools) < 0.95
    lexical = np.where(world, lexical, 0.0)
    reference = fuse(cast(SemanticView, FixedCosines(cosines)), world, lexical, 20)
    view = ApproximateCosines(cosines, bound=0.01, seed=2, fine=fine)
    found = fuse(cast(SemanticView, view), world, lexical, 20)
    assert found[0].tolist() == reference[0].tolist()
    assert found[1][found[0]].tolist() == reference[1][reference[0]].tolist()
    assert found[2] == reference[2]
    assert found[3][found[0]].tolist() == reference[3][reference[0]].tolist()
    assert not view.scanned
    assert view.settled <= 60  # the pool and the tools near the best cosines
    assert view.refined <= 60


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_top_indexes_of_a_large_catalog_are_those_of_the_full_partition(seed: int) -> None:
    # Above SAMPLE_MIN the partition runs over what a strided sample's floor lets through:
    # the same tools, in the same order (ties by index), as over every positive score.
    rng = np.random.default_rng(seed)
    n = SAMPLE_MIN + 1_234
    scores = np.zeros(n)
    hit = rng.choice(n, size=int(rng.integers(5, n)), replace=False)
    scores[hit] = rng.choice([1e-6, 2e-6, 0.5, 0.7, 3.0], size=len(hit)) * rng.integers(
        1, 4, len(hit)
    )
    scores[rng.choice(n, size=40, replace=False)] = 3.0  # ties at the top
    for count in (1, 20, 40, 80):
        positive = np.flatnonzero(scores > 0)
        full = positive[np.lexsort((positive, -scores[positive]))][:count]
        assert top_indexes(scores, count).tolist() == full.tolist()


def test_a_platform_the_request_names_or_implies_reaches_the_semantic_side() -> None:
    # Two tools equal lexically; the second (bound to another OS) is nearer in meaning.
    semantic = cast(SemanticView, FixedCosines(np.array([0.60, 0.66])))
    world = np.ones(2, dtype=bool)
    lexical = np.array([1.0, 1.0])
    order, _, _, _ = fuse(semantic, world, lexical, 20)
    assert order.tolist() == [1, 0]
    penalty = np.array([1.0, 0.8])  # CatalogIndex.platform_factor(..., boost=False)
    order, relevance, _, _ = fuse(semantic, world, lexical * penalty, 20, platforms=penalty)
    assert order.tolist() == [0, 1]
    assert relevance[1] < relevance[0] == 1.0


# A catalog of bare descriptions places cosines over a constant span (SEMANTIC_SPAN_WITHOUT);
# PER_REQUEST is the same catalog placing them between the floor and each request's best.
BARE = Calibration(0.3, False, 0.65, 0, None, 0.5, semantic_span=0.2)
PER_REQUEST = Calibration(0.3, False, 0.65, 0, None, 0.5)


def _fused(calibration: Calibration, cosines: list[float], lexical: list[float]) -> FloatArray:
    semantic = cast(SemanticView, FixedCosines(np.array(cosines), calibration))
    world = np.ones(len(cosines), dtype=bool)
    order, relevance, _, _ = fuse(semantic, world, np.array(lexical), 20)
    assert relevance[order[0]] == 1.0
    return cast(FloatArray, order)


def test_a_word_match_weighs_alike_whether_the_encoder_finds_the_request_close_or_not() -> None:
    # Tool 0 shares the request's words and is 0.08 further in meaning than tool 1. Placed
    # between the floor and each request's best, the gap fills most of the semantic share
    # when the best is 0.3 (tool 1 wins) and little of it when the best is 0.7 (tool 0 wins);
    # over a constant span the same evidence gives the same answer at either level.
    for best in (0.3, 0.7):
        assert _fused(BARE, [best - 0.08, best], [1.0, 0.0])[0] == 0
    assert _fused(PER_REQUEST, [0.22, 0.3], [1.0, 0.0])[0] == 1
    assert _fused(PER_REQUEST, [0.62, 0.7], [1.0, 0.0])[0] == 0


def test_under_the_floor_the_nearer_of_two_tools_sharing_the_words_ranks_first() -> None:
    # Tools 1 and 2 share the same words; both are under the floor (0.2) in meaning, tool 2
    # the nearer. Clipped at the floor they tie, and the tie goes to the catalog's order.
    cosines, lexical = [0.5, 0.12, 0.18], [0.0, 1.0, 1.0]
    assert _fused(BARE, cosines, lexical).tolist() == [0, 2, 1]
    assert _fused(PER_REQUEST, cosines, lexical).tolist() == [0, 1, 2]


def test_a_platform_penalty_lowers_a_tool_under_the_floor_too() -> None:
    # Over a constant span a cosine under the floor counts against the tool; multiplied by a
    # penalty factor it would count less, and a tool bound to another OS would gain by it
    # (the lexical scores are equal here, so the semantic side alone must lower it).
    semantic = cast(SemanticView, FixedCosines(np.array([0.5, 0.15, 0.15]), BARE))
    world = np.ones(3, dtype=bool)
    penalty = np.array([1.0, 1.0, 0.8])
    lexical = np.array([1.0, 0.9, 0.9])
    order, relevance, _, _ = fuse(semantic, world, lexical, 20, platforms=penalty)
    assert order.tolist() == [0, 1, 2]
    assert 0.0 < relevance[2] < relevance[1]
