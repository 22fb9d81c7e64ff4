"""The semantic index's scoring side: which texts a snapshot's tools have, in (tool, kind)
order (TextLayout), and their vectors, one row per distinct text (TextVectors), turned into
per-tool scores for one request. Neither changes once made, so a request reads one
TextVectors from start to end while a fuller one (semantic.SemanticIndex, clauses) is swapped
in beside it.

A tool's semantic score is the mean over the kinds of text it has of the best cosine in that
kind; measured on the dev and held-out sets this beat the single best text (0.758 vs 0.708
top-1 on dev) and the description alone. Its name alone is a further field (NAME_WEIGHT), and
so are the clauses of a tool's description when it has no examples (clauses.CLAUSE_WEIGHT);
both are left out of the best single cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, compress, repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray, copy_rows
from toolcatalog.selection.clauses import CLAUSE_KIND, CLAUSE_WEIGHT
from toolcatalog.selection.cosine_scan import CosineScan, int8_levels, uses_int8
from toolcatalog.selection.encoders.minilm import Array
from toolcatalog.selection.scan_file import kept_levels
from toolcatalog.selection.tool_fields import GroupMaxima, ToolFields

KINDS = ("description", "example", "capability", "name", "clause")
# The name alone of a tool without examples ("finance tool", "pg_dump (PostgreSQL logical
# backup)") is a field of its own: NAME_WEIGHT of its semantic score, the mean over its other
# kinds the rest. A name says what a tool is for in few words, which a one-sentence
# description's other words blur; it takes no part in the best single cosine (what the gate
# and the calibration read), since a short text can sit near a request by accident. Measured
# offline on three terse catalogs (fused ranking, top-1 / recall@5), weights 0 -> 0.15 ->
# 0.25: MetaTool 2,000 0.586 / 0.805 -> 0.590 / 0.807 -> 0.592 / 0.810; the starter catalog's
# names and descriptions (180 dev and held-out requests) 0.683 / 0.894 -> 0.700 / 0.894 ->
# 0.672 / 0.894; manual pages (43 shell requests) 0.442 / 0.744 -> 0.465 / 0.744 -> 0.512 /
# 0.767. 0.15 gains on all three. A tool with examples has request-like texts already: given
# to every tool of the starter catalog with its examples, the name field cost dev 0.833 ->
# 0.808 (a tool the request names won: "no docker", "NIC Link is Down" -> ethtool) while
# held-out went 0.867 -> 0.900.
NAME_KIND = 3
NAME_WEIGHT = 0.15


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


class TextLayout:
    """Every text of a snapshot's tools (`size` of them, in CatalogIndex order), sorted by
    (tool, kind) so each (tool, kind) group is one contiguous segment, and the tables that
    turn one cosine per text into each tool's scores."""

    def __init__(self, texts: list[str], kinds: IntArray, owners: IntArray, size: int) -> None:
        self.size = size
        self.texts = texts
        self.kinds: IntArray = kinds
        self.owners: IntArray = owners
        slot = owners * len(KINDS) + kinds
        self.slots: IntArray = slot
        starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(slot) else slot
        group_slots = slot[starts] if len(slot) else slot
        group_tool = group_slots // len(KINDS)
        named = group_slots % len(KINDS) == NAME_KIND
        clause = group_slots % len(KINDS) == CLAUSE_KIND
        # Each tool's texts are texts[tool_start[i]:tool_start[i + 1]] (see exact_scores).
        self.tool_start: IntArray = np.searchsorted(owners, np.arange(size + 1))
        # How many kinds of text but its name and clauses each tool has (at least its
        # description, so never 0).
        self.kinds_per_tool: IntArray = np.maximum(
            np.bincount(group_tool[~(named | clause)], minlength=size), 1
        )
        self.fields = ToolFields(
            starts,
            group_tool,
            named,
            self.kinds_per_tool,
            len(slot),
            NAME_WEIGHT,
            clause,
            CLAUSE_WEIGHT,
        )

    @classmethod
    def of(cls, per_tool: Sequence[Sequence[tuple[int, str]]]) -> TextLayout:
        """The layout of each tool's (kind, text) pairs (semantic.tool_texts)."""
        counts = np.fromiter(map(len, per_tool), dtype=np.int64, count=len(per_tool))
        owner_of = np.repeat(np.arange(len(per_tool), dtype=np.int64), counts)
        kinds, texts = (
            zip(*chain.from_iterable(per_tool), strict=True) if len(owner_of) else ((), ())
        )
        kind_of = np.fromiter(kinds, dtype=np.int64, count=len(owner_of))
        # Owners ascend already: a stable sort of (owner, kind) is lexsort's order.
        order = np.argsort(owner_of * len(KINDS) + kind_of, kind="stable")
        ordered = list(map(texts.__getitem__, order.tolist()))
        return cls(ordered, kind_of[order], owner_of[order], len(per_tool))

    def without(self, kind: int) -> TextLayout:
        """The same layout without the texts of `kind`: what `of` gives for the same tools'
        texts but those (the sort is stable)."""
        keep = self.kinds != kind
        at = np.flatnonzero(keep)
        texts = [self.texts[i] for i in at]
        return TextLayout(texts, self.kinds[keep], self.owners[keep], self.size)


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
        scan: CosineScan | None = None,
    ) -> None:
        self.layout = layout
        self.rows = rows  # each distinct text's row in the scan
        self.scan = CosineScan(matrix) if scan is None else scan
        self.inverse: IntArray | None = None
        self._maxima: GroupMaxima | None = None
        if len(rows) != len(layout.texts):
            self.inverse = np.fromiter(
                map(rows.__getitem__, layout.texts), dtype=np.int64, count=len(layout.texts)
            )
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
        cls, layout: TextLayout, texts: list[str], vectors: Array, levels: Path | None = None
    ) -> TextVectors:
        """From the vectors of `distinct(layout)` (`texts`), in its order: the rows `kept`
        makes of every text's vector, without a vector per text. `levels`: the file where
        the scan's int8 levels are kept (scan_file.py), read when they are those of
        `vectors`, written when they are built; the scan then reads the file's matrix and
        levels through a mapping, and `vectors` can go."""
        rows = dict(zip(texts, range(len(texts)), strict=True))
        if levels is None or not uses_int8(len(vectors)):
            return cls(layout, rows, vectors)
        saved = kept_levels(levels, vectors, lambda: int8_levels(vectors))
        return cls(layout, rows, vectors, CosineScan(vectors, saved=saved))

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
    ) -> TextVectors:
        """Vectors of `layout` from these rows and `vectors` of `texts` (what `missing` said
        they lack; `extension`: this `extension(layout)` when already made): the same rows,
        bit for bit, as `kept` of every text's vector."""
        # Each distinct text's row, in first-seen order (C-level loops: 720,000 texts at
        # 100,000 generated tools).
        distinct, held, _missing = extension if extension is not None else self.extension(layout)
        rows = dict(zip(distinct, range(len(distinct)), strict=True))
        old = self.scan.matrix
        matrix = np.empty((len(rows), old.shape[1]), dtype=old.dtype)
        here = np.flatnonzero(held >= 0)
        there = held[here]
        copy_rows(matrix, here, old, there)
        if len(texts):
            matrix[[rows[text] for text in texts]] = vectors
        # The kept rows' int8 levels are copied, not computed again (CosineScan).
        scan = CosineScan(matrix, previous=self.scan, taken=(here, there))
        return TextVectors(layout, rows, matrix, scan)

    def per_text(self) -> Array:
        """Every text's vector, in layout order (for a calibration)."""
        matrix = self.scan.matrix
        return matrix if self.inverse is None else matrix[self.inverse]

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
