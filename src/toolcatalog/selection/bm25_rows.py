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
        sorted by name in both), so their rows stay sorted when renumbered. None when the
        changed documents have many rows (over MERGE_SHARE): `fresh` is quicker then."""
        kept = np.flatnonzero(at >= 0)
        renumber = np.full(before, -1, dtype=np.int32)
        renumber[at[kept]] = kept
        doc = renumber[self.doc]
        keep = doc >= 0
        dropped = np.flatnonzero(~keep)
        terms, known = len(parts.vocab), len(self.start) - 1
        # Where each term's kept rows start among the kept rows.
        gone = np.bincount(np.searchsorted(self.start, dropped, side="right") - 1, minlength=known)
        kept_start = np.empty(terms + 1, dtype=np.int64)
        kept_start[: known + 1] = self.start
        kept_start[1 : known + 1] -= np.cumsum(gone)
        kept_start[known + 1 :] = kept_start[known]
        term, field, count, new_doc = expanded(parts, comps, fields, docs)
        if len(term) > MERGE_SHARE * kept_start[-1]:
            return None
        order = np.argsort(term << 32 | new_doc, kind="stable")
        term, field, count, new_doc = term[order], field[order], count[order], new_doc[order]
        old_doc = doc[keep]
        # Each new row's place among the kept rows: in its term's block, by document.
        placed = np.empty(len(term), dtype=np.int64)
        bounds = np.flatnonzero(np.r_[True, term[1:] != term[:-1], True]) if len(term) else term[:1]
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            t = int(term[lo])
            a, b = int(kept_start[t]), int(kept_start[t + 1])
            placed[lo:hi] = a + np.searchsorted(old_doc[a:b], new_doc[lo:hi])
        placed += np.arange(len(term))
        total = len(old_doc) + len(term)
        is_new = np.zeros(total, dtype=bool)
        is_new[placed] = True
        is_old = ~is_new
        out_doc = np.empty(total, dtype=np.int32)
        out_field = np.empty(total, dtype=np.int8)
        out_count = np.empty(total, dtype=np.float32)
        out_doc[placed], out_field[placed], out_count[placed] = new_doc, field, count
        out_doc[is_old], out_field[is_old], out_count[is_old] = (
            old_doc,
            self.field[keep],
            self.count[keep],
        )
        start = kept_start
        start[1:] += np.cumsum(np.bincount(term, minlength=terms))
        return Rows(start, out_doc, out_field, out_count)

    def pairs(
        self,
        norm: FloatArray,
        weight: FloatArray,
        evidence: FloatArray,
        fields: int,
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Per (term, document) pair, sorted: its term, its document, the fields' pseudo
        frequencies summed (each row's count weighted and divided by its (document, field)
        cell of `norm`, `fields` per document) and the strongest field evidence."""
        doc, field = self.doc, self.field
        if not len(doc):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), np.zeros(0)
        slot = doc.astype(np.int64) * fields + field
        pseudo = weight[field] * self.count.astype(np.float64) / norm[slot]
        changed = np.empty(len(doc), dtype=bool)
        changed[0] = True
        np.not_equal(doc[1:], doc[:-1], out=changed[1:])
        changed[self.start[:-1][self.start[:-1] < len(doc)]] = True  # a new term
        starts = np.flatnonzero(changed)
        tf_sum = np.add.reduceat(pseudo, starts)
        strongest = np.maximum.reduceat(evidence[field], starts)
        per_term = np.diff(np.searchsorted(starts, self.start))
        pair_term = np.repeat(np.arange(len(self.start) - 1, dtype=np.int64), per_term)
        return pair_term, doc[starts].astype(np.int64), tf_sum, strongest
