"""The (term, document) rows of a BM25F index (bm25.py), kept sorted by term then document
between builds: a write merges its changed documents' rows into the kept ones instead of
expanding and sorting every document's again, then every pair's contribution is computed
anew from the rows (what depends on the whole catalog, the IDF and the average field
lengths, moves with almost every write) by the same operations on the same operands, in the
same order, as a build from nothing: the same bits.

A row is one term of one component of one document: its key (interned term id << 32 |
document), its field and its count in the component. At 100,000 generated tools a write
expanded and sorted ~5 million rows again (1.5 s of its 2.7 s of postings); kept, they cost
14 bytes each (~70 MB there) and the merge is a few vectorised passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.interned import Interned

DOC_BITS = 32
DOC_MASK = (1 << DOC_BITS) - 1


def term_order(row_term: IntArray, terms: int) -> IntArray:
    """The stable order of `row_term` (ids under `terms`). Rows are in document order, so it
    orders them by (term, document). numpy radix-sorts 16-bit keys: 18 ms for the 1.5 million
    rows of 10,000 tools against 145 ms for int64 ones; past 2**16 terms (100,000 generated
    tools: one name word each) two stable 16-bit passes, low half then high half, give the
    same order (0.4 s for the ~5 million rows of 100,000 tools, against 1.2 s)."""
    if terms <= 2**16:
        return np.argsort(row_term.astype(np.uint16), kind="stable")
    if terms > 2**32:
        return np.argsort(row_term, kind="stable")
    order = np.argsort((row_term & 0xFFFF).astype(np.uint16), kind="stable")
    high = (row_term >> 16).astype(np.uint16)[order]
    ordered: IntArray = order[np.argsort(high, kind="stable")]
    return ordered


# A write whose tools' rows are over this share of the kept ones builds them from nothing: the
# merge places each new term's rows one term at a time.
MERGE_SHARE = 0.125


def expanded(
    parts: Interned, comps: IntArray, fields: npt.NDArray[np.int16], docs: IntArray
) -> tuple[IntArray, npt.NDArray[np.int16], npt.NDArray[np.float32], IntArray]:
    """Each (document, field, component) entry's (term, count) rows, in entry order: each
    row's term, field, count and document."""
    _len, comp_n, comp_start, flat_terms, flat_counts = parts.arrays()
    per_entry = comp_n[comps]
    total = int(per_entry.sum())
    shift = np.repeat(comp_start[comps] - np.cumsum(per_entry) + per_entry, per_entry)
    rows = shift + np.arange(total, dtype=np.int64)
    return (
        flat_terms[rows].astype(np.int64),
        np.repeat(fields, per_entry),
        flat_counts[rows],
        np.repeat(docs, per_entry),
    )


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows sorted by term, then document; the rows of one (term, document) pair in the
    order of the document's components. Term t's rows are [start[t], start[t + 1]): 9 bytes
    a row (document, field, count), the term held once."""

    start: IntArray  # per interned term id, and one past the last
    doc: npt.NDArray[np.int32]
    field: npt.NDArray[np.int8]
    count: npt.NDArray[np.float32]

    @classmethod
    def fresh(
        cls, parts: Interned, comps: IntArray, fields: npt.NDArray[np.int16], docs: IntArray
    ) -> Rows:
        """The rows of every entry (`docs` ascending)."""
        term, field, count, doc = expanded(parts, comps, fields, docs)
        terms = len(parts.vocab)
        order = term_order(term, terms)
        start = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(term, minlength=terms), out=start[1:])
        return cls(start, doc[order].astype(np.int32), field[order].astype(np.int8), count[order])

    def merged(
        self,
        at: IntArray,
        parts: Interned,
        comps: IntArray,
        fields: npt.NDArray[np.int16],
        docs: IntArray,
        before: int,
    ) -> Rows | None:
        """These rows (of `before` documents) for a new generation: `at[i]` is document i's
        number here when it is unchanged, else -1; the entries (`comps`, `fields`, `docs`
        ascending) are the changed documents'. The kept documents keep their order (tools are
        sorted by name in both), so their rows stay sorted when renumbered. The changed
        documents' rows are cut out and theirs spliced in, one copy of each array in slices.
        None when they are many (over MERGE_SHARE of the rows, or MAX_SPLICES places):
        `fresh` is quicker then."""
        kept = np.flatnonzero(at >= 0)
        old_kept = at[kept]  # ascending, as `kept`
        held = np.zeros(before, dtype=bool)
        held[old_kept] = True
        gone = np.flatnonzero(~held)
        term, field, count, new_doc = expanded(parts, comps, fields, docs)
        if not len(kept) or len(term) > MERGE_SHARE * len(self.doc):
            return None
        if len(gone) <= 8:  # a compare per document beats a gather of every row's
            hit = np.zeros(len(self.doc), dtype=bool)
            for number in gone.tolist():
                hit |= self.doc == number
        else:
            hit = ~held[self.doc]
        dropped = np.flatnonzero(hit)
        order = np.argsort(term << 32 | new_doc, kind="stable")
        term, field, count, new_doc = term[order], field[order], count[order], new_doc[order]
        placed = self._places(term, new_doc, kept, old_kept, before)
        splices = _splices(dropped, placed)
        if len(splices) > MAX_SPLICES:
            return None
        doc = self.doc
        if not np.array_equal(old_kept, kept):  # documents came or went: renumber
            renumber = np.full(before, -1, dtype=np.int32)
            renumber[old_kept] = kept
            doc = renumber[doc]
        terms, known = len(parts.vocab), len(self.start) - 1
        per_term = np.bincount(term, minlength=terms)
        per_term[:known] += np.diff(self.start)
        per_term -= np.bincount(
            np.searchsorted(self.start, dropped, side="right") - 1, minlength=terms
        )
        start = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(per_term, out=start[1:])
        return Rows(
            start,
            _spliced(doc, new_doc.astype(np.int32), splices),
            _spliced(self.field, field.astype(np.int8), splices),
            _spliced(self.count, count, splices),
        )

    def _places(
        self, term: IntArray, doc: IntArray, kept: IntArray, old_kept: IntArray, before: int
    ) -> IntArray:
        """Where each new row (sorted) goes among these rows: before the row of its term of
        the first kept document that follows its document (its number here: `bound`)."""
        follows = np.searchsorted(kept, doc)
        bound = np.where(follows < len(kept), old_kept[np.minimum(follows, len(kept) - 1)], before)
        placed = np.empty(len(term), dtype=np.int64)
        known, end = len(self.start) - 1, len(self.doc)
        cuts = np.flatnonzero(np.r_[True, term[1:] != term[:-1], True]) if len(term) else term[:1]
        for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            t = int(term[lo])
            a, b = (int(self.start[t]), int(self.start[t + 1])) if t < known else (end, end)
            placed[lo:hi] = a + np.searchsorted(self.doc[a:b], bound[lo:hi])
        return placed

    def pairs(
        self,
        norm: FloatArray,
        weight: FloatArray,
        evidence: FloatArray,
        fields: int,
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Per (term, document) pair, sorted: how many pairs each term has, each pair's
        document, the fields' pseudo frequencies summed (each row's count weighted and
        divided by its (document, field) cell of `norm`, `fields` per document) and the
        strongest field evidence."""
        doc, field = self.doc, self.field
        total = len(doc)
        # In place where it can: each row array of float64 is 130 MB at 100,000 tools, and
        # fresh pages cost their faults (the same operations on the same operands: count
        # widened to float64 exactly, then weight x count / norm).
        pseudo = weight.take(field)
        pseudo *= self.count
        cell = norm.take(doc * np.int32(fields) + field)
        pseudo /= cell
        changed = np.empty(total, dtype=bool)
        changed[:1] = True
        np.not_equal(doc[1:], doc[:-1], out=changed[1:])
        term_start = self.start[:-1]
        changed[term_start[term_start < total]] = True  # a new term
        starts = np.flatnonzero(changed)
        tf_sum = np.add.reduceat(pseudo, starts)
        strongest = np.maximum.reduceat(evidence.take(field, out=cell), starts)
        per_term = np.diff(np.searchsorted(starts, self.start))
        return per_term, doc[starts].astype(np.int64), tf_sum, strongest


# A write whose rows go to more places than this (cuts and insertions) builds them afresh.
MAX_SPLICES = 4096
_Array = TypeVar("_Array", bound=np.ndarray)


def _splices(dropped: IntArray, placed: IntArray) -> list[tuple[int, int, int]]:
    """The pieces of a spliced array, in order: (0, lo, hi) the old rows lo:hi, (1, lo, hi)
    the new rows lo:hi. Old rows `dropped` are cut out; new row r goes before old row
    `placed[r]` (ascending)."""
    pieces: list[tuple[int, int, int]] = []
    at = 0  # the next old row
    drops, places = dropped.tolist(), placed.tolist()
    i = j = 0
    while i < len(drops) or j < len(places):
        if j < len(places) and (i == len(drops) or places[j] <= drops[i]):
            k = j
            while k < len(places) and places[k] == places[j]:
                k += 1
            pieces.append((0, at, places[j]))
            pieces.append((1, j, k))
            at, j = places[j], k
        else:
            pieces.append((0, at, drops[i]))
            at, i = drops[i] + 1, i + 1
        if len(pieces) > 2 * MAX_SPLICES:
            break
    pieces.append((0, at, -1))
    return [p for p in pieces if p[0] or p[2] < 0 or p[2] > p[1]]


def _spliced(old: _Array, new: _Array, pieces: list[tuple[int, int, int]]) -> _Array:
    end = len(old)
    parts = [
        (new if source else old)[lo : (end if hi < 0 and not source else hi)]
        for source, lo, hi in pieces
    ]
    return np.concatenate(parts) if parts else old[:0].copy()  # type: ignore[return-value]
