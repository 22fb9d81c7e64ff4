"""Ranking the pool: the best few of a catalog's scores (top_indexes), and the lexical scores
fused with the semantic ranking (fuse), the fast scan's error bound settled exactly wherever it
could change the pool, its relevance or the best cosine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.request_names import NAMED_INSTRUMENT_COSINE, NAMED_PROBLEM_COSINE
from toolcatalog.selection.semantic import SemanticView

# Semantic fusion (Settings.semantic). A tool's relevance is the weighted mean of its lexical
# score (over the best) and its semantic score placed between SEMANTIC_FLOOR and the best, or
# over the catalog's constant span above the floor (calibrate.SEMANTIC_SPAN_WITHOUT)
# (rank-fused values squeeze the top ten into 0.85..1 and would hand the choice to
# preferences), and the pool is the tools of highest relevance: the order the candidates are
# ranked in. (A pool by reciprocal-rank fusion, then ranked by relevance, left out tools that
# relevance puts in the first five: MetaTool recall@5 0.778 with it, 0.799 without.)
# SEMANTIC_FLOOR is about the cosine of unrelated text (out-of-scope requests: median best
# cosine 0.24).
SEMANTIC_SHARE = 0.5  # without a calibration; see calibrate.SEMANTIC_SHARE_*
SEMANTIC_FLOOR = 0.2
# When more than this share of the catalog's tools need their exact semantic scores (see
# fuse), the whole catalog is scanned exactly instead.
EXACT_ALL_SHARE = 0.25
# Tools in doubt on the scan's first bound are scored on its finer tier (cosine_scan.py) when
# more than this many, else settled exactly at once: below it one finer pass and the exact
# one it still leaves cost more than the exact one alone (10,000 generated tools, thread CPU
# at load ~9: 190 tools 0.58 ms finer against 0.46 exact, 600 tools 1.31 against 2.50).
FINER_MIN_TOOLS = 256

# top_indexes: catalogs of SAMPLE_MIN tools or more first find a floor from every
# SAMPLE_STRIDE-th score.
SAMPLE_MIN = 20_000
SAMPLE_STRIDE = 64


def top_indexes(scores: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Indexes of the `count` highest positive scores, best first, ties by index (tool name):
    a partition then a sort of the few, not a sort of the whole catalog (0.5 ms at 10,000).

    In a large catalog the partition runs over the few scores that can be among the first
    `count`: those at or above the count-th best of a strided sample (a sample's count-th
    best is at most the whole's), the same answer from about 1/SAMPLE_STRIDE of the work
    (100,000 tools, all scored: 2.0 -> 0.3 ms)."""
    if len(scores) >= SAMPLE_MIN:
        sample = scores[::SAMPLE_STRIDE]
        if np.count_nonzero(sample > 0) >= count > 0:
            floor = np.partition(sample, len(sample) - count)[len(sample) - count]
            positive = np.flatnonzero(scores >= floor)
            return _best_of(scores, positive, count)
    return _best_of(scores, np.flatnonzero(scores > 0), count)


def _best_of(
    scores: npt.NDArray[np.float64], positive: npt.NDArray[np.int64], count: int
) -> npt.NDArray[np.int64]:
    """The `count` best of `positive` (indexes of positive scores holding the best)."""
    if len(positive) > count:
        cut = np.partition(scores[positive], len(positive) - count)[len(positive) - count]
        positive = positive[scores[positive] >= cut]
    ranked = positive[np.lexsort((positive, -scores[positive]))]
    return ranked[:count].astype(np.int64)


def fuse(
    semantic: SemanticView,
    world: npt.NDArray[np.bool_],
    lexical: npt.NDArray[np.float64],
    pool: int,
    problems: list[int] | None = None,
    instruments: list[int] | None = None,
    platforms: FloatArray | float = 1.0,
) -> tuple[npt.NDArray[np.int64], FloatArray, float, FloatArray]:
    """The pool (best first) by fused relevance of the lexical and semantic scores, each
    tool's relevance (the most relevant tool at 1), the best single text cosine of any tool
    that can serve the request, and each tool's best text cosine.

    The semantic scores come from the fast scan (cosine_scan.py) with a bound on their error;
    the tools whose place that bound leaves in doubt (near the most similar tool, near the
    pool's last place, near the best single cosine) get finer scores (a large set) and then
    exact ones, until no tool is in doubt, so the pool, its relevance and cosines, and the
    best cosine are those of the exact scan. Other tools' relevance and cosines are within
    the bound (nothing reads them). `platforms`: the
    request's platform factors (CatalogIndex.platform_factor), which `lexical` already
    carries, applied to the semantic share too: a platform the request names or implies
    reaches the fused relevance, not only the lexical score."""
    approximation = semantic.approximate()
    mean, best = approximation.mean, approximation.best
    # How far each tool's scores may be off: the scan's bound, then the finer tier's for the
    # tools of a large set in doubt, then 0 once settled exactly.
    off = np.full(len(mean), approximation.bound)
    everything = np.arange(len(mean))

    def settle(tools: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """`tools` settled exactly or, when many are on the scan's bound, scored finer; the
        tools whose scores changed."""
        tools = tools[off[tools] > 0]
        coarse = tools[off[tools] > approximation.fine_bound]
        if len(coarse) > FINER_MIN_TOOLS:
            mean[coarse], best[coarse] = approximation.finer(coarse)
            off[coarse] = approximation.fine_bound
            return coarse
        if len(tools) > EXACT_ALL_SHARE * len(mean):
            mean[:], best[:] = semantic.scores()
            off[:] = 0.0
            return everything
        if len(tools):
            mean[tools], best[tools] = semantic.exact(tools)
            off[tools] = 0.0
        return tools

    def settle_pool(
        doubt: npt.NDArray[np.int64], least: FloatArray, most: FloatArray, relevance: FloatArray
    ) -> npt.NDArray[np.int64]:
        """Settle the tools in `doubt` (unsettled, they may be in the pool) whose relevance
        the bound can move; once none can, those of the pool (ties by index) that are still
        unsettled, whose cosines the pool reads. The tools settled (none: the pool is exact).

        A tool whose least and most relevance are equal has its exact relevance already
        (`fused` is monotone in the cosine, which lies between the two ends): a cosine under
        SEMANTIC_FLOOR, or over the top, at both ends of its bound, clipped. Such tools tie:
        a catalog of tools that share a description but a number (bench/scale.py's) put up
        to 60 % of the catalog at one relevance at the pool's cut, and settling them all
        read every row of the scan's matrix exactly (879 MiB at 100,000 tools, the worker's
        resident memory while they are mapped) to find the few the pool takes."""
        moving = doubt[least[doubt] < most[doubt]]
        if not len(moving):
            chosen = top_indexes(relevance, pool)
            moving = np.sort(chosen[off[chosen] > 0])  # settle takes ascending positions
            if not len(moving):
                return moving
        return settle(moving)

    def doubtful(values: FloatArray) -> npt.NDArray[np.int64]:
        """The unsettled tools that may hold the greatest of `values` (in the world: each
        within `off` of its exact value): those whose most reaches the greatest least."""
        margin = np.where(world, off, 0.0)
        floor = float((values - margin).max(initial=-np.inf))
        return np.flatnonzero((values + margin >= floor) & (margin > 0))

    def greatest(values: Callable[[], FloatArray]) -> tuple[FloatArray, float]:
        """`values()` once the tools that may hold their greatest are settled, and that
        greatest, exact."""
        current = values()
        while len(near := doubtful(current)):
            settle(near)
            current = values()
        return current, float(current.max(initial=-1.0))

    def best_cosines() -> FloatArray:
        return np.where(world, best, -1.0)

    def cosines() -> FloatArray:
        cosine = np.where(world, mean, -1.0)
        if problems:
            cosine[problems] -= NAMED_PROBLEM_COSINE
        if instruments:
            cosine[instruments] += NAMED_INSTRUMENT_COSINE
        return cosine

    calibration = semantic.calibration
    share = calibration.semantic_share if calibration is not None else SEMANTIC_SHARE
    fixed_span = calibration.semantic_span if calibration is not None else None
    top_lexical = float(lexical.max(initial=0.0))
    lex = lexical / top_lexical if top_lexical > 0 else lexical
    # An exact scan (bound 0: a catalog under cosine_scan.INT8_MIN_ROWS distinct texts) leaves
    # no tool in doubt, so none of the settling below would find one: it is skipped (~20
    # array operations, ~0.1 ms of a starter catalog's select), the same values.
    exact = approximation.bound == 0
    if exact:
        cosine = cosines()
        top = float(cosine.max(initial=-1.0))
    else:
        # Both greatest cosines read below, the semantic scale's top and the best single
        # one: their tools in doubt settled in one pass (settling others only raises each
        # floor).
        settle(np.union1d(doubtful(cosines()), doubtful(best_cosines())))
        cosine, top = greatest(cosines)
    # Between the floor and the best (clipped to 0..1), or over the catalog's constant span,
    # not clipped: a cosine under the floor then counts against the tool, a platform factor
    # still lowers a tool bound to another OS (dividing a negative side) and lifts a named one.
    span = max(top - SEMANTIC_FLOOR, 1e-9) if fixed_span is None else fixed_span

    def fused(at: npt.NDArray[np.int64], moved: FloatArray) -> FloatArray:
        """The relevance of tools `at` at cosines `moved` (an element-wise formula: the same
        bits for a tool whichever others are computed beside it)."""
        factor = platforms if isinstance(platforms, float) else platforms[at]
        placed = (moved - SEMANTIC_FLOOR) / span
        if fixed_span is None:
            sem = np.clip(placed, 0.0, 1.0) * factor
        elif isinstance(factor, float) and factor == 1.0:
            sem = placed
        else:
            sem = np.where(placed < 0.0, placed / factor, placed * factor)
        out: FloatArray = (1.0 - share) * lex[at] + share * sem
        return out

    # The pool is the `pool` most relevant tools of positive relevance. A tool whose most is
    # under the pool-th greatest least (or not positive) cannot be in it; every tool that can
    # is settled, one whose relevance the cosines cannot move once the pool takes it (its
    # cosines are read: settle_pool), so the pool and its values are the exact scan's.
    relevance = fused(everything, cosine)
    if not exact:
        margin = np.where(world, off, 0.0)
        least, most = fused(everything, cosine - margin), fused(everything, cosine + margin)
        while True:
            positive = least[least > 0]
            cut = 0.0 if len(positive) < pool else float(np.partition(positive, -pool)[-pool])
            doubt = np.flatnonzero(((most >= cut) if cut > 0 else (most > 0)) & (off > 0))
            at = settle_pool(doubt, least, most, relevance)
            if not len(at):
                break
            cosine = cosines()  # the top stays: every tool that could hold it is exact
            margin = np.where(world, off, 0.0)
            relevance[at] = fused(at, cosine[at])
            least[at] = fused(at, cosine[at] - margin[at])
            most[at] = fused(at, cosine[at] + margin[at])
    order = top_indexes(relevance, pool)
    scale = float(relevance[order[0]]) if len(order) else 0.0
    if scale > 0:
        relevance = relevance / scale
    if exact:
        return order, relevance, float(best_cosines().max(initial=-1.0)), best
    _, best_cosine = greatest(best_cosines)
    return order, relevance, best_cosine, best
