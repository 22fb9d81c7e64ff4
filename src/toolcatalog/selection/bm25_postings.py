"""The (term, document) pairs of a BM25F index (bm25.py), kept sorted by term then document
between builds, each with what depends only on its document: its saturated pseudo frequency
(the fields' weighted, length-normalised counts summed, then tf / (K1 + tf)) and its
strongest field evidence. The IDF, which moves with almost every write, is applied per
request term (bm25.BM25FIndex.score), and the average field lengths the length norm divides
by are rounded to a fixed relative step (`rounded_average`), so they move only when the
catalog's lengths drift past a step. A write whose rounded averages stay cuts the changed
documents' pairs out and splices theirs in (one copy of each array in slices); the pairs
of the unchanged documents are the same values, so the result is, bit for bit, the pairs a
build from nothing makes. Otherwise every pair is made again from the documents' terms.

At 100,000 generated tools (11.4 million pairs) session 15's write computed every pair
again from 16.6 million kept rows (~0.35 s of its ~0.65 s at load 2.5; rows and pairs held
~420 MB); the pairs alone hold 20 bytes each (~230 MB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.interned import Interned

K1 = 1.2

# An average field length is kept to 7 significant bits (a relative step of 1/128 to 1/64):
# a one-tool write moves a 100,000-tool catalog's averages by ~1e-5 of themselves, so its
# pairs are recomputed about once in a thousand such writes. BM25F's length norm is
# 1 - b + b x length / average; an average within 0.4 % of the exact one moves a score by
# less than that share of its length term.
AVERAGE_BITS = 7


def rounded_average(mean: float) -> float:
    """`mean` (at least 1) rounded to AVERAGE_BITS significant bits: exact float operations,
    so every platform, replica and restart rounds a catalog's averages alike."""
    fraction, exponent = math.frexp(max(mean, 1.0))  # mean = fraction x 2**exponent
    steps = 1 << AVERAGE_BITS
    return math.ldexp(round(fraction * steps) / steps, exponent)


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


# A write whose documents' pairs are over this share of the kept ones builds them from
# nothing: the merge places each new term's pairs one term at a time.
MERGE_SHARE = 0.125
# A write whose pairs go to more places than this (cuts and insertions) builds them afresh.
MAX_SPLICES = 4096


@dataclass(frozen=True, slots=True)
class Norms:
    """What turns a row's count into its pseudo frequency: per (document, field) cell its
    length norm (`fields` cells a document), and per field its weight and evidence."""

    norm: FloatArray
    weight: FloatArray
    evidence: FloatArray
    fields: int


@dataclass(frozen=True, slots=True)
class Pairs:
    """Pairs sorted by term, then document. Term t's pairs are [start[t], start[t + 1])
    (t an interned term id): per pair its document, saturated pseudo frequency and
    strongest field evidence (20 bytes)."""

    start: IntArray  # per interned term id, and one past the last
    doc: npt.NDArray[np.int32]
    saturated: FloatArray
    evidence: FloatArray

    @classmethod
    def fresh(
        cls,
        parts: Interned,
        comps: IntArray,
        fields: npt.NDArray[np.int16],
        docs: IntArray,
        norms: Norms,
    ) -> Pairs:
        """The pairs of every entry (`docs` ascending)."""
        term, field, count, doc = _expanded(parts, comps, fields, docs)
        order = term_order(term, len(parts.vocab))
        return cls._of(term[order], field[order], count[order], doc[order], norms, parts)

    @classmethod
    def _of(
        cls,
        term: IntArray,
        field: npt.NDArray[np.int16],
        count: npt.NDArray[np.float32],
        doc: IntArray,
        norms: Norms,
        parts: Interned,
    ) -> Pairs:
        """The pairs of rows sorted by (term, document), a pair's rows in its document's
        component order: the fields' pseudo frequencies summed in that order (weight x
        count / norm), saturated, and the strongest evidence."""
        pseudo = norms.weight.take(field)
        pseudo *= count
        pseudo /= norms.norm.take(doc * norms.fields + field)
        starts = _starts(term, doc)
        tf = np.add.reduceat(pseudo, starts) if len(starts) else pseudo[:0]
        strongest = np.maximum.reduceat(norms.evidence.take(field), starts) if len(starts) else tf
        saturated = tf / (K1 + tf)
        terms = len(parts.vocab)
        start = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(term[starts], minlength=terms), out=start[1:])
        return cls(start, doc[starts].astype(np.int32), saturated, strongest)

    def merged(
        self,
        at: IntArray,
        parts: Interned,
        entries: tuple[IntArray, npt.NDArray[np.int16], IntArray],
        norms: Norms,
        before: int,
    ) -> Pairs | None:
        """These pairs (of `before` documents) for a new generation whose rounded averages
        are theirs: `at[i]` is document i's number here when it is unchanged, else -1;
        `entries` (component ids, fields, documents ascending) are the changed documents'.
        The kept documents keep their order (tools are sorted by name in both), so their
        pairs stay sorted when renumbered. None when the changed pairs are many (over
        MERGE_SHARE, or MAX_SPLICES places): `fresh` is quicker then."""
        kept = np.flatnonzero(at >= 0)
        old_kept = at[kept]  # ascending, as `kept`
        term, field, count, new_doc = _expanded(parts, *entries)
        if not len(kept) or len(term) > MERGE_SHARE * len(self.doc):
            return None
        order = np.argsort(term << 32 | new_doc, kind="stable")
        new = Pairs._of(term[order], field[order], count[order], new_doc[order], norms, parts)
        held = np.zeros(before, dtype=bool)
        held[old_kept] = True
        dropped = _dropped(self.doc, held)
        pair_term = np.repeat(np.arange(len(new.start) - 1), np.diff(new.start))
        placed = self._places(pair_term, new.doc.astype(np.int64), kept, old_kept, before)
        splices = _splices(dropped, placed)
        if len(splices) > MAX_SPLICES:
            return None
        doc = self.doc
        if not np.array_equal(old_kept, kept):  # documents came or went: renumber
            renumber = np.full(before, -1, dtype=np.int32)
            renumber[old_kept] = kept
            doc = renumber[doc]
        per_term = np.diff(new.start)
        per_term[: len(self.start) - 1] += np.diff(self.start)
        per_term -= np.bincount(
            np.searchsorted(self.start, dropped, side="right") - 1, minlength=len(per_term)
        )
        start = np.zeros(len(per_term) + 1, dtype=np.int64)
        np.cumsum(per_term, out=start[1:])
        return Pairs(
            start,
            _spliced(doc, new.doc, splices),
            _spliced(self.saturated, new.saturated, splices),
            _spliced(self.evidence, new.evidence, splices),
        )

    def _places(
        self, term: IntArray, doc: IntArray, kept: IntArray, old_kept: IntArray, before: int
    ) -> IntArray:
        """Where each new pair (sorted) goes among these pairs: before the pair of its term
        of the first kept document that follows its document (its number here: `bound`)."""
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


def _expanded(
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


def _starts(term: IntArray, doc: IntArray) -> IntArray:
    """Where each run of equal (term, document) starts."""
    changed = np.empty(len(term), dtype=bool)
    changed[:1] = True
    np.not_equal(doc[1:], doc[:-1], out=changed[1:])
    changed[1:] |= term[1:] != term[:-1]
    return np.flatnonzero(changed)


def _dropped(doc: npt.NDArray[np.int32], held: npt.NDArray[np.bool_]) -> IntArray:
    """The pairs whose document is not `held` (changed or gone)."""
    gone = np.flatnonzero(~held)
    if len(gone) <= 8:  # a compare per document beats a gather of every pair's
        hit = np.zeros(len(doc), dtype=bool)
        for number in gone.tolist():
            hit |= doc == number
    else:
        hit = ~held[doc]
    return np.flatnonzero(hit)


def _splices(dropped: IntArray, placed: IntArray) -> list[tuple[int, int, int]]:
    """The pieces of a spliced array, in order: (0, lo, hi) the old pairs lo:hi, (1, lo, hi)
    the new pairs lo:hi. Old pairs `dropped` are cut out; new pair r goes before old pair
    `placed[r]` (ascending)."""
    pieces: list[tuple[int, int, int]] = []
    at = 0  # the next old pair
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


_Array = TypeVar("_Array", bound=np.ndarray)


def _spliced(old: _Array, new: _Array, pieces: list[tuple[int, int, int]]) -> _Array:
    end = len(old)
    parts = [
        (new if source else old)[lo : (end if hi < 0 and not source else hi)]
        for source, lo, hi in pieces
    ]
    return np.concatenate(parts) if parts else old[:0].copy()  # type: ignore[return-value]
