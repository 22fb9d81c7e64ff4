"""The semantic index's scoring side: the vectors of a layout's texts (text_layout.py), one
row per distinct text (TextVectors), turned into per-tool scores for one request. Neither
changes once made, so a request reads one TextVectors from start to end while a fuller one
(semantic.SemanticIndex, clauses) is swapped in beside it.

A tool's semantic score is the mean over the kinds of text it has of the best cosine in that
kind; measured on the dev and held-out sets this beat the single best text (0.758 vs 0.708
top-1 on dev) and the description alone. Its name alone is a further field (NAME_WEIGHT), and
so are the clauses of a tool's description when it has no examples (clauses.CLAUSE_WEIGHT);
both are left out of the best single cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import compress, repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.clauses import CLAUSE_KIND, CLAUSE_WEIGHT
from toolcatalog.selection.cosine_scan import CosineScan, levels_in_parts, uses_int8
from toolcatalog.selection.delta_scan import DeltaScan, Scan, appended, gathered, scan_vectors
from toolcatalog.selection.encoders.minilm import Array
from toolcatalog.selection.scan_file import matching_levels
from toolcatalog.selection.text_layout import KINDS, NAME_KIND, NAME_WEIGHT, Splice, TextLayout
from toolcatalog.selection.tool_fields import GroupMaxima

# A write's vectors are appended to the scan's rows (TextVectors.appended) until this many
# rows were appended (each request scans them exactly: 8,192 rows, 12.6 MB, ~0.5 ms) or
# this share of the rows is held by no text (the int8 pass reads them for nothing); then
# the rows are made again in the layout's order, as whenever writes pause
# (semantic_engine.SemanticEngine._kept_later).
DELTA_MAX_ROWS = 8192
DEAD_MAX_SHARE = 0.05


# Texts a calibration's block gathers between releases of a mapped matrix's pages, and the
# chosen texts (probes, descriptions) it takes (PerText.take).
GATHER_ROWS = 4096
TAKE_ROWS = 32


class PerText:
    """The vectors of texts whose rows of `scan` are `rows` (None: every row, in order), read
    from it a block at a time (best_cosines.TextRows): a calibration held a copy of them all
    (879 MiB at 100,000 generated tools), and, when the scan's matrix is mapped, the pages read
    for a block go back after it (they were all resident until the calibration's end)."""

    def __init__(self, scan: Scan, rows: IntArray | None) -> None:
        self.scan, self.rows = scan, rows

    def __len__(self) -> int:
        return self.scan.rows if self.rows is None else len(self.rows)

    def take(self, rows: IntArray) -> Array:
        """The vectors of texts `rows` (a copy), read TAKE_ROWS at a time with the pages
        handed back after each part: the kernel maps a file's whole large folio (up to 2 MiB
        on this project's ext4) around a row read, so a calibration's 500 probes spread over
        the matrix left most of it resident (100,000 generated tools: 789 of 879 MiB, the
        first start's peak; in process, 500 rows of 300,000: 416 of 440 MiB)."""
        return self._gathered(rows if self.rows is None else self.rows[rows], TAKE_ROWS)

    def blocks(self, size: int) -> Iterator[Array]:
        """Every text's vector, `size` texts at a time. Every row in order: the matrix's own
        rows, no copy (index20's 9a59b03: the same products, bit for bit). Chosen rows:
        copies, each gathered GATHER_ROWS texts at a time with the pages read handed back
        after each part, as the kernel maps 16 pages around each one read and a block's texts
        may be spread over the matrix (a text shared by tools has the row of its first)."""
        if self.rows is None:
            assert not isinstance(self.scan, DeltaScan)
            for at in range(0, self.scan.rows, size):
                yield self.scan.matrix[at : at + size]
                self.scan.release()
            return
        for at in range(0, len(self.rows), size):
            yield self._gathered(self.rows[at : at + size], GATHER_ROWS)

    def _gathered(self, rows: IntArray, part: int) -> Array:
        """The vectors of the scan's `rows` (a copy), gathered `part` rows at a time, the
        pages read handed back after each part."""
        scan = self.scan
        matrix = scan.base.matrix if isinstance(scan, DeltaScan) else scan.matrix
        out = np.empty((len(rows), matrix.shape[1]), dtype=matrix.dtype)
        for at in range(0, len(rows), part):
            out[at : at + part] = scan_vectors(scan, rows[at : at + part])
            scan.release()
        return out


class Approximation(NamedTuple):
    """A request's scores of every tool from the fast scan: `mean` and `best` as
    TextVectors.tool_scores gives them, each within `bound` of it; `finer(tools)` gives the
    scores of `tools` (ascending positions) within `fine_bound` (at most `bound`; the same as
    it when the scan has no finer tier)."""

    mean: FloatArray
    best: FloatArray
    bound: float
    fine_bound: float
    finer: Callable[[IntArray], tuple[FloatArray, FloatArray]]


class Extension(NamedTuple):
    """What a layout needs beyond a TextVectors' rows (TextVectors.extension): its distinct
    texts in first-seen order, each one's row there (-1: not held), and those not held."""

    distinct: dict[str, None]
    held: IntArray
    missing: list[str]


class TextVectors:
    """A layout's vectors, one row per distinct text (`inverse` maps each text to its row; None
    when every text is distinct): a catalog repeats texts (shared capability descriptions; the
    generated 10,000-tool catalog's 72,077 texts hold 50,448 distinct), and the cosine scan
    that every request pays is memory-bound, so its cost is the rows kept. Equal texts have
    equal vectors (the cache is keyed by text), so the scores are the same. Read only."""

    def __init__(
        self,
        layout: TextLayout,
        rows: dict[str, int],
        matrix: Array,
        scan: Scan | None = None,
        inverse: IntArray | None = None,
    ) -> None:
        """`inverse`: each text's row, when already known (`appended`: rows of texts no
        tool holds any more may remain, so the rows' count says nothing)."""
        self.layout = layout
        self.rows = rows  # each distinct text's row in the scan
        self.scan: Scan = CosineScan(matrix) if scan is None else scan
        self.inverse: IntArray | None = inverse
        self._maxima: GroupMaxima | None = None
        if inverse is None and len(rows) != len(layout.texts):
            self.inverse = np.fromiter(
                map(rows.__getitem__, layout.texts), dtype=np.int64, count=len(layout.texts)
            )
        if self.inverse is not None:
            # Each group's best cosine read from the scan's rows: no gather of every text's.
            fields = layout.fields
            self._maxima = GroupMaxima(fields.starts, fields.texts, self.inverse)

    @classmethod
    def kept(cls, layout: TextLayout, vectors: Array) -> TextVectors:
        """From one vector per text of `layout`, in its order."""
        rows: dict[str, int] = {}
        inverse = np.fromiter(
            (rows.setdefault(t, len(rows)) for t in layout.texts),
            dtype=np.int64,
            count=len(layout.texts),
        )
        if len(rows) == len(layout.texts):
            return cls(layout, rows, vectors)
        first = np.empty(len(rows), dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)  # each row's first text
        return cls(layout, rows, vectors[first])

    @staticmethod
    def distinct(layout: TextLayout) -> list[str]:
        """The distinct texts of `layout`, in first-seen order (the rows' order)."""
        return list(dict.fromkeys(layout.texts))

    @classmethod
    def of_distinct(
        cls,
        layout: TextLayout,
        texts: list[str],
        vectors: Callable[[int, int], Array],
        dimensions: int,
        levels: Path | None = None,
    ) -> TextVectors:
        """From the vectors of `distinct(layout)` (`texts`), in its order, which
        `vectors(start, stop)` gives a part at a time: the rows `kept` makes of every text's
        vector, without a vector per text. `levels`: the file where the scan's int8 levels
        are kept (scan_file.py), read when they are those of these vectors, written part by
        part when they are built; the scan then reads the file's matrix and levels through a
        mapping, and the vectors are never held whole (879 MiB at 100,000 generated tools).
        Without the file, or for a scan without the int8 pass, they are gathered whole."""
        rows = dict(zip(texts, range(len(texts)), strict=True))
        shape = (len(texts), dimensions)
        if levels is not None and uses_int8(shape[0]):
            # A restart's: the file's matrix compared with the vectors, without a digest.
            saved = matching_levels(levels, shape, vectors) or levels_in_parts(
                levels, shape, lambda start, stop: (vectors(start, stop), None)
            )
            if saved is not None and saved.matrix is not None:
                return cls(layout, rows, saved.matrix, CosineScan(saved.matrix, saved=saved))
        return cls(layout, rows, vectors(0, shape[0]))

    def extension(self, layout: TextLayout) -> Extension:
        """What `layout` needs beyond these rows (for `extended`): one pass over its texts
        and one lookup per distinct text, which a write made twice (`missing`, then
        `extended`: ~1 s of dict work at 100,000 generated tools)."""
        distinct = dict.fromkeys(layout.texts)
        held = np.fromiter(
            map(self.rows.get, distinct, repeat(-1)), dtype=np.int64, count=len(distinct)
        )
        return Extension(distinct, held, list(compress(distinct, (held < 0).tolist())))

    def missing(self, layout: TextLayout) -> list[str]:
        """The distinct texts of `layout` these vectors do not hold, in first-seen order."""
        return self.extension(layout).missing

    def extended(
        self,
        layout: TextLayout,
        texts: Sequence[str],
        vectors: Array,
        extension: Extension | None = None,
        levels: Path | None = None,
    ) -> TextVectors:
        """Vectors of `layout` from these rows and `vectors` of `texts` (what `missing` said
        they lack; `extension`: this `extension(layout)` when already made): the same rows,
        bit for bit, as `kept` of every text's vector. `levels`: the file where the scan's
        int8 levels are kept (scan_file.py): the matrix and its levels are made a part at a
        time straight into it (cosine_scan.levels_in_parts: neither is held whole, 1.2 GB at
        100,000 generated tools), and the scan reads it, as CosineScan.keep would make it;
        in memory when the file cannot be written."""
        # Each distinct text's row, in first-seen order (C-level loops: 720,000 texts at
        # 100,000 generated tools).
        distinct, held, _missing = extension if extension is not None else self.extension(layout)
        rows = dict(zip(distinct, range(len(distinct)), strict=True))
        old = self.scan
        base = old.base if isinstance(old, DeltaScan) else old
        source = held.copy()  # each row's in `old`, or past its rows in `vectors`
        if len(texts):
            source[[rows[text] for text in texts]] = old.rows + np.arange(len(texts))
        added = np.asarray(vectors, dtype=base.matrix.dtype)

        def part(start: int, stop: int) -> tuple[Array, tuple[IntArray, IntArray]]:
            return gathered(old, source, added, start, stop)

        shape = (len(rows), base.matrix.shape[1])
        saved = None
        if levels is not None and base.approximates and uses_int8(shape[0]):
            # Made in parts straight into the file (the kept rows' int8 levels copied).
            saved = levels_in_parts(levels, shape, part, previous=base)
        if saved is not None and saved.matrix is not None:
            scan = CosineScan(saved.matrix, previous=base, saved=saved)
        else:  # in memory, the kept rows' int8 levels copied (CosineScan)
            matrix, taken = part(0, shape[0])
            scan = CosineScan(matrix, previous=base, taken=taken)
        return TextVectors(layout, rows, scan.matrix, scan)

    def appended(
        self, layout: TextLayout, splice: Splice, texts: Sequence[str], vectors: Array
    ) -> TextVectors | None:
        """Vectors of `layout`, spliced from these vectors' layout (`splice`), with `vectors`
        of `texts` (the distinct texts of its fresh positions these rows lack) appended
        after these rows: the scan keeps its matrix, levels and first-level session
        (delta_scan.py). The rows' order is not `extended`'s, the scores are the same bits.
        None when this scan has no int8 pass (a small catalog: `extended` is cheap) or when
        the appended rows or the rows no text holds would pass their bounds (DELTA_MAX_ROWS,
        DEAD_MAX_SHARE): then `extended` makes the rows again in the layout's order."""
        scan = self.scan
        if not scan.approximates:
            return None
        base_rows = scan.base_rows if isinstance(scan, DeltaScan) else scan.rows
        if scan.rows + len(texts) - base_rows > DELTA_MAX_ROWS:
            return None
        rows = self.rows.copy()
        rows.update(zip(texts, range(scan.rows, scan.rows + len(texts)), strict=True))
        before = np.arange(len(self.layout.texts)) if self.inverse is None else self.inverse
        inverse = np.empty(len(layout.texts), dtype=np.int64)
        for here, there, length in splice.runs:
            inverse[here : here + length] = before[there : there + length]
        fresh = splice.fresh.tolist()
        inverse[splice.fresh] = [rows[layout.texts[at]] for at in fresh]
        total = scan.rows + len(texts)
        live = int(np.count_nonzero(np.bincount(inverse, minlength=total)))
        if total - live > DEAD_MAX_SHARE * total:
            return None
        grown = appended(scan, np.asarray(vectors, dtype=np.float32)) if len(texts) else scan
        return TextVectors(layout, rows, np.zeros((0, 0), np.float32), grown, inverse)

    def compacted(self, levels: Path | None = None) -> TextVectors:
        """These vectors with their rows in the layout's order (`extended`'s, a start's):
        the scan made from nothing, but for the kept rows' levels, which are copied (and
        kept in the file `levels`, read from there: `extended`)."""
        if not isinstance(self.scan, DeltaScan):
            return self
        empty = np.zeros((0, 0), dtype=np.float32)
        return self.extended(self.layout, [], empty, levels=levels)

    def per_text(self, which: npt.NDArray[np.bool_] | None = None) -> PerText:
        """Every text's vector (those `which` marks), in layout order, read a block at a time
        (for a calibration: best_cosines.TextRows)."""
        if self.inverse is not None:  # always, over a DeltaScan (`appended` sets it)
            rows = self.inverse if which is None else self.inverse[which]
        elif which is not None and not which.all():
            rows = np.flatnonzero(which)
        else:
            rows = None  # every row, each text's once (a first start's): read in place
        return PerText(self.scan, rows)

    def tool_scores(self, query: Array) -> tuple[FloatArray, FloatArray]:
        """Per tool: the mean over text kinds of the best cosine in each kind, and the best
        cosine of any one of its texts."""
        return self._per_tool(self.scan.exact(query))

    def approximate_scores(self, query: Array) -> Approximation:
        """tool_scores from the fast scan (cosine_scan.py), within a bound (0: exact), with
        finer scores of chosen tools on demand; exact_scores settles the tools in doubt."""
        cosines = self.scan.approximate(query)
        mean, best = self._per_tool(cosines.sims)
        return Approximation(
            mean,
            best,
            cosines.bound,
            cosines.fine_bound,
            lambda tools: self._scores_of(tools, cosines.finer),
        )

    def exact_scores(self, query: Array, tools: IntArray) -> tuple[FloatArray, FloatArray]:
        """tool_scores of `tools` (ascending positions) alone: the same values, bit for bit,
        from their texts' rows only."""
        return self._scores_of(tools, lambda rows: self.scan.exact(query, rows))

    def _scores_of(
        self, tools: IntArray, cosines: Callable[[IntArray], Array]
    ) -> tuple[FloatArray, FloatArray]:
        """The scores of `tools` (ascending positions) from `cosines` of their texts' rows."""
        if not len(tools):
            return np.zeros(0), np.zeros(0)
        layout = self.layout
        starts = layout.tool_start[tools]
        counts = layout.tool_start[tools + 1] - starts
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        texts = offsets + np.arange(int(counts.sum()))
        rows = texts if self.inverse is None else self.inverse[texts]
        sims = cosines(rows)
        slots = layout.slots[texts]
        segments = _starts(slots)
        best_in_kind = np.maximum.reduceat(sims, segments)
        owner = np.searchsorted(tools, slots[segments] // len(KINDS))
        firsts = _starts(owner)
        named = slots[segments] % len(KINDS) == NAME_KIND
        clause = slots[segments] % len(KINDS) == CLAUSE_KIND
        return _fields(best_in_kind, owner, named, firsts, layout.kinds_per_tool[tools], clause)

    def _per_tool(self, sims: Array) -> tuple[FloatArray, FloatArray]:
        if not self.layout.size:
            return np.zeros(0), np.zeros(0)
        if self._maxima is not None:
            return self.layout.fields.of_groups(self._maxima(sims))
        return self.layout.fields(sims)


def _starts(values: IntArray) -> IntArray:
    """Where each run of equal `values` starts."""
    changed = np.empty(len(values), dtype=bool)
    changed[:1] = True
    np.not_equal(values[1:], values[:-1], out=changed[1:])
    return np.flatnonzero(changed)


def _fields(
    best_in_kind: Array,
    owner: IntArray,
    named: npt.NDArray[np.bool_],
    firsts: IntArray,
    kinds: IntArray,
    clause: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per tool, from the best cosine of each of its (tool, kind) groups (`owner`: the group's
    tool, 0..len(kinds)-1, grouped by tool; `named`: a name group; `firsts`: each tool's first
    group, its description; `kinds`: each tool's groups but its name and clauses; `clause`: a
    clause group): the mean over its kinds but the name, the description's field mixed with
    its clauses' (CLAUSE_WEIGHT), mixed with the name's cosine (NAME_WEIGHT), and the best
    cosine of any text but its name and clauses. Computed as tool_fields.ToolFields computes
    the whole scan, so both give the same bits."""
    values = best_in_kind.astype(np.float64)
    left_out = named
    if clause is not None and clause.any():
        at = np.flatnonzero(clause)
        described = firsts[owner[at]]
        whole = values[described]
        values[described] = (1.0 - CLAUSE_WEIGHT) * whole + CLAUSE_WEIGHT * np.maximum(
            whole, values[at]
        )
        left_out = named | clause
    fields = np.bincount(owner, weights=np.where(left_out, 0.0, values), minlength=len(kinds))
    mean: FloatArray = fields / kinds
    if named.any():
        name = np.zeros(len(kinds))
        name[owner[named]] = best_in_kind[named]
        has_name = np.zeros(len(kinds), dtype=bool)
        has_name[owner[named]] = True
        mean = np.where(has_name, (1.0 - NAME_WEIGHT) * mean + NAME_WEIGHT * name, mean)
    best = np.maximum.reduceat(np.where(left_out, -np.inf, best_in_kind), firsts)
    return mean, best.astype(np.float64)
