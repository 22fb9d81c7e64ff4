"""The numpy array types the selection engine's indexes and scores come in, and a row copy
that keeps runs of rows whole (copy_rows)."""

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def copy_rows(
    into: npt.NDArray[Any], here: IntArray, source: npt.NDArray[Any], there: IntArray
) -> None:
    """`into[here] = source[there]` (rows: the first axis), the same bits: by slices where
    both run on by one (a derived index keeps its rows in order, so a write's kept rows are a
    few long runs). 500,000 rows of 384 float32: a gather of every row moves them one at a
    time, a slice copies a run at memory speed."""
    if not len(here):
        return
    breaks = np.flatnonzero((np.diff(here) != 1) | (np.diff(there) != 1)) + 1
    if len(breaks) > COPY_RUNS:
        into[here] = source[there]
        return
    starts = [0, *breaks.tolist()]
    for lo, hi in zip(starts, [*starts[1:], len(here)], strict=True):
        a, b = int(here[lo]), int(there[lo])
        into[a : a + hi - lo] = source[b : b + hi - lo]


# Past this many runs a gather is as quick as the slices' Python loop.
COPY_RUNS = 1024
