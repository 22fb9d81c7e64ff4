"""A write's cosine scan without a new matrix: the previous scan's rows (its int8 levels and
the first level's ONNX Runtime session, which packed them, kept as they are) followed by the
rows of the texts writes added since, scanned exactly (`DeltaScan`). At 100,000 generated
tools a one-tool write made the whole scan again: a new 768 MB matrix (2.0 s of fresh pages),
its levels copied (1.0 s) and the first level's session made and packed again (2.3 s).

Rows of texts no tool holds any more stay where they are (dead): no tool's score reads them.
The scans' answers are those of a scan made from nothing over the live rows in any order:
a row's exact cosine is the same bits wherever the row is (einsum row by row), a row of the
delta is exact (within any bound), and the base's bounds are maxima over more rows than the
live ones (no tighter than a fresh scan's), which fusion.fuse settles exactly wherever they
could change the pool, its relevance or the best cosine. The rows' order and the bounds may
differ from a fresh scan's; `TextVectors.compacted` makes the fresh one (the matrix in the
layout's order, written to the levels file as a start makes it) once writes pause, or at
once when the delta or the dead rows pass a bound (text_vectors.py)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import copy_rows
from toolcatalog.selection.cosine_scan import Cosines, CosineScan

Vector = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]


class DeltaScan:
    """`base`'s rows, then `delta`'s (float32, unit rows): the cosines of a request with
    each, as CosineScan gives them. Read only; thread-safe as `base` is."""

    def __init__(self, base: CosineScan, delta: Vector) -> None:
        self.base = base
        self.delta = delta
        self.base_rows = base.rows
        self.rows = base.rows + len(delta)

    @property
    def approximates(self) -> bool:
        return self.base.approximates

    def appended(self, rows: Vector) -> DeltaScan:
        """A scan of these rows, then `rows` (this one unchanged)."""
        return DeltaScan(self.base, np.concatenate([self.delta, rows]))

    def vectors(self, rows: Rows) -> Vector:
        """The vectors of `rows` (a copy)."""
        out = np.empty((len(rows), self.delta.shape[1]), dtype=np.float32)
        low = rows < self.base_rows
        out[low] = self.base.matrix[rows[low]]
        out[~low] = self.delta[rows[~low] - self.base_rows]
        return out

    def exact(self, query: Vector, rows: Rows | None = None) -> Vector:
        """Exact cosines of every row, or of `rows`: the same bits, row for row, as a
        CosineScan of the same rows in any order."""
        if rows is None:
            return np.concatenate([self.base.exact(query), self._delta_exact(query)])
        low = rows < self.base_rows
        out = np.empty(len(rows), dtype=np.float32)
        out[low] = self.base.exact(query, rows[low])
        out[~low] = self._delta_exact(query, rows[~low] - self.base_rows)
        return out

    def approximate(self, query: Vector) -> Cosines:
        """The base's int8 pass, with the delta's exact cosines after it: within the base's
        bounds (a delta row is off by 0)."""
        cosines = self.base.approximate(query)
        sims = np.concatenate([cosines.sims, self._delta_exact(query)])
        base_rows = self.base_rows

        def finer(rows: Rows) -> Vector:
            low = rows < base_rows
            out = sims[rows]
            out[low] = cosines.finer(rows[low])
            return out

        return Cosines(sims, cosines.bound, cosines.fine_bound, finer)

    def _delta_exact(self, query: Vector, rows: Rows | None = None) -> Vector:
        delta = self.delta if rows is None else self.delta[rows]
        out: Vector = np.einsum("ij,j->i", delta, query)
        return out

    def release(self) -> None:
        self.base.release()

    def keep(self, path: object) -> bool:
        """Never kept as it is: the levels file holds a matrix in the layout's order
        (TextVectors.compacted makes that scan)."""
        return False


Scan = CosineScan | DeltaScan


def appended(scan: Scan, rows: Vector) -> DeltaScan:
    """`scan`'s rows, then `rows`."""
    if isinstance(scan, DeltaScan):
        return scan.appended(rows)
    return DeltaScan(scan, rows.astype(np.float32, copy=False).reshape(-1, scan.matrix.shape[1]))


def scan_vectors(scan: Scan, rows: Rows) -> Vector:
    """The vectors of `rows` of `scan` (a copy)."""
    if isinstance(scan, DeltaScan):
        return scan.vectors(rows)
    out: Vector = scan.matrix[rows]
    return out


def gathered(
    scan: Scan, source: Rows, added: Vector, start: int, stop: int
) -> tuple[Vector, tuple[Rows, Rows]]:
    """Rows `start` to `stop` of a matrix whose row i is row source[i] of `scan` (its base's
    rows, then its delta's) or, from scan.rows on, row source[i] - scan.rows of `added`; with
    the rows that are its base's (here, in the part; there, in the base), whose int8 levels
    can be copied from it. A part at a time: a compaction never holds the whole matrix."""
    base = scan.base if isinstance(scan, DeltaScan) else scan
    part = source[start:stop]
    out = np.empty((len(part), base.matrix.shape[1]), dtype=base.matrix.dtype)
    here = np.flatnonzero(part < base.rows)
    there = part[here]
    copy_rows(out, here, base.matrix, there)  # by runs: a kept layout's rows stay in order
    if isinstance(scan, DeltaScan):
        late = np.flatnonzero((part >= base.rows) & (part < scan.rows))
        out[late] = scan.delta[part[late] - base.rows]
    new = np.flatnonzero(part >= scan.rows)
    if len(new):
        out[new] = added[part[new] - scan.rows]
    return out, (here, there)
