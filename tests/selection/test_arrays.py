"""copy_rows gives the bits of a gather, whether it copies by runs or gathers."""

from __future__ import annotations

import numpy as np
import pytest

from toolcatalog.selection.arrays import COPY_RUNS, copy_rows


@pytest.mark.parametrize("cuts", [0, 1, 7, COPY_RUNS + 5])
def test_rows_copied_by_runs_are_those_a_gather_takes(cuts: int) -> None:
    """A derived matrix's kept rows (runs of rows in order, cut where texts came or went),
    in one and two dimensions; past COPY_RUNS runs the gather itself."""
    rng = np.random.default_rng(cuts)
    source = rng.standard_normal((5_000, 6)).astype(np.float32)
    there = np.sort(rng.choice(5_000, 4_000, replace=False))  # rows gone in between
    here = np.arange(len(there)) + np.searchsorted(  # rows new in between
        np.sort(rng.choice(len(there), cuts, replace=True)), np.arange(len(there)), "right"
    )
    for matrix in (source, source[:, 0].copy()):
        want = np.zeros((here[-1] + 1, *matrix.shape[1:]), dtype=matrix.dtype)
        got = want.copy()
        want[here] = matrix[there]
        copy_rows(got, here, matrix, there)
        assert got.tobytes() == want.tobytes()
    empty = np.zeros(0, dtype=np.int64)
    copy_rows(got, empty, source[:, 0], empty)  # nothing to copy
