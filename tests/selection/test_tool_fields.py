"""ToolFields (the whole scan's per-tool scores) against text_vectors._fields (the chosen tools'
scores): the same bits, or a tool's score would depend on which path computed it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from toolcatalog.selection.clauses import CLAUSE_KIND, CLAUSE_WEIGHT
from toolcatalog.selection.text_vectors import KINDS, NAME_KIND, NAME_WEIGHT, _fields
from toolcatalog.selection.tool_fields import GATHER_WIDTH, GroupMaxima, ToolFields

Layout = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
    int,
    npt.NDArray[np.bool_],
]


def layout(rng: np.random.Generator, tools: int) -> Layout:
    """A SemanticIndex's layout (and its number of texts): texts sorted by (tool, kind); each
    tool has its description, maybe examples (several texts), a capability, a name and its
    description's clauses (several texts)."""
    texts: list[int] = []
    for tool in range(tools):
        kinds = [0] + [k for k in (1, 2, NAME_KIND, CLAUSE_KIND) if rng.random() < 0.5]
        for kind in kinds:
            several = kind in (1, CLAUSE_KIND)
            texts += [tool * len(KINDS) + kind] * (int(rng.integers(1, 6)) if several else 1)
    slot = np.array(texts, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
    owner = slot[starts] // len(KINDS)
    named = slot[starts] % len(KINDS) == NAME_KIND
    clause = slot[starts] % len(KINDS) == CLAUSE_KIND
    kinds = np.maximum(np.bincount(owner[~(named | clause)], minlength=tools), 1)
    return starts, owner, named, kinds, len(texts), clause


@pytest.mark.parametrize("seed", range(40))
def test_every_tools_scores_are_those_of_the_chosen_tools_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    starts, owner, named, kinds, texts, clause = layout(rng, int(rng.integers(1, 300)))
    fields = ToolFields(starts, owner, named, kinds, texts, NAME_WEIGHT, clause, CLAUSE_WEIGHT)
    for _ in range(3):
        sims = rng.uniform(-1, 1, texts).astype(np.float32)
        sims[rng.random(texts) < 0.2] = 0.0  # ties and zeros
        firsts = np.searchsorted(owner, np.arange(len(kinds)))
        want = _fields(np.maximum.reduceat(sims, starts), owner, named, firsts, kinds, clause)
        got = fields(sims)
        for a, b in zip(want, got, strict=True):
            assert a.dtype == b.dtype == np.float64
            assert a.tobytes() == b.tobytes()


def test_one_text_a_group_and_no_names_score_alike() -> None:
    owner = np.array([0, 0, 1, 2, 2, 2], dtype=np.int64)
    named = np.zeros(6, dtype=bool)
    kinds = np.array([2, 1, 3])
    sims = np.array([0.5, 0.25, -0.5, 0.125, 0.75, 0.0], dtype=np.float32)
    mean, best = ToolFields(np.arange(6), owner, named, kinds, 6, NAME_WEIGHT)(sims)
    assert mean.tolist() == [0.375, -0.5, 0.875 / 3]
    assert best.tolist() == [0.5, -0.5, 0.75]


def test_a_description_clause_lifts_its_field_but_not_the_best_cosine() -> None:
    # One tool: description 0.2, a capability 0.4, its description's clauses 0.8 and 0.1.
    starts = np.array([0, 1, 2], dtype=np.int64)
    owner = np.zeros(3, dtype=np.int64)
    named = np.zeros(3, dtype=bool)
    clause = np.array([False, False, True])
    sims = np.array([0.25, 0.5, 0.75, 0.125], dtype=np.float32)
    fields = ToolFields(starts, owner, named, np.array([2]), 4, NAME_WEIGHT, clause, 0.5)
    mean, best = fields(sims)
    assert mean.tolist() == [((0.5 * 0.25 + 0.5 * 0.75) + 0.5) / 2]
    assert best.tolist() == [0.5]  # the clauses are not a text of their own to the gate


@pytest.mark.parametrize("seed", range(20))
def test_group_maxima_are_reduceats_whatever_the_groups_lengths(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Mostly short groups, some longer than GATHER_WIDTH, the last one long or short.
    sizes = rng.choice([1, 1, 2, 3, GATHER_WIDTH, GATHER_WIDTH + 1, 3 * GATHER_WIDTH], 200)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    texts = int(sizes.sum())
    maxima = GroupMaxima(starts, texts)
    for _ in range(3):
        sims = rng.uniform(-1, 1, texts).astype(np.float32)
        sims[rng.random(texts) < 0.2] = 0.0
        got = maxima(sims)
        assert got.dtype == np.float32
        assert got.tobytes() == np.maximum.reduceat(sims, starts).tobytes()
        # Read through rows (texts that repeat share a row of the scan).
        rows = rng.integers(0, max(texts // 2, 1), texts)
        scan = rng.uniform(-1, 1, max(texts // 2, 1)).astype(np.float32)
        through = GroupMaxima(starts, texts, rows)(scan)
        assert through.tobytes() == np.maximum.reduceat(scan[rows], starts).tobytes()
