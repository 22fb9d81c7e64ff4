"""The (term, document) pairs of a BM25F index (bm25.py), kept sorted by term then document
between builds, each with what depends only on its document: its saturated pseudo frequency
(the fields' weighted, length-normalised counts summed, then tf / (K1 + tf)) and its
strongest field evidence. The IDF, which moves with almost every write, is applied per
request term (bm25.BM25FIndex.score), and the average field lengths the length norm divides
by are rounded to a fixed relative step (`rounded_average`), so they move only when the
catalog's lengths drift past a step. A write whose rounded averages stay cuts the changed
documents' pairs out and splices theirs in; the pairs of the unchanged documents are the
same values, so the result is, bit for bit, the pairs a build from nothing makes.
Otherwise every pair is made again from the documents' terms.

The pairs are held in blocks of consecutive terms (~BLOCK_PAIRS each), and a write makes
again only the blocks of the terms its documents held or hold, sharing the others with the
previous generation (session 19: one array of every pair per write was ~230 MB of fresh
pages at 100,000 tools, whose wall on a busy machine was many times its CPU). A block is
never written once made, so a reader of an earlier generation sees its pairs as they were.

At 100,000 generated tools (11.4 million pairs) session 15's write computed every pair
again from 16.6 million kept rows (~0.35 s of its ~0.65 s at load 2.5; rows and pairs held
~420 MB); the pairs alone hold 20 bytes each (~230 MB).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, TypeVar

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


# A write makes again the blocks that hold a pair it cuts or the place of one it adds, and
# shares the others with the previous generation: blocks of about this many pairs (80 KiB),
# a spliced block past twice it cut in two.
BLOCK_PAIRS = 4096
# Pairs._before finds up to this many documents of a term one at a time (a bisection over
# the term's blocks each) rather than listing the term's blocks.
FEW_DOCS = 8


@dataclass(frozen=True, slots=True)
class Pairs:
    """Pairs sorted by term, then document; in that order, term t's pairs are the places
    [start[t], start[t + 1]) (t an interned term id). The order is held in blocks: block k
    holds the places [bounds[k], bounds[k + 1]), per pair its document, saturated pseudo
    frequency and strongest field evidence (20 bytes). A term held by many documents spans
    several blocks, so a write that changes one of its documents makes one of them again.
    Blocks are never written once made: a derived generation shares every block its write
    does not touch (`merged`), so a reader of an earlier generation sees its pairs as they
    were."""

    start: IntArray  # per interned term id, and one past the last
    bounds: tuple[int, ...]  # per block, its first place; then the number of pairs
    doc: tuple[npt.NDArray[np.int32], ...]  # per block
    saturated: tuple[FloatArray, ...]
    evidence: tuple[FloatArray, ...]

    @property
    def size(self) -> int:
        return int(self.start[-1])

    def pieces(self, term: int) -> list[tuple[int, int, int]]:
        """Term `term`'s pairs as (block, lo, hi): the block's places lo:hi, in order."""
        lo, hi = int(self.start[term]), int(self.start[term + 1])
        out = []
        bounds = self.bounds
        k = bisect_right(bounds, lo) - 1
        while lo < hi:
            end = min(hi, bounds[k + 1])
            out.append((k, lo - bounds[k], end - bounds[k]))
            lo, k = end, k + 1
        return out

    def of(self, term: int) -> tuple[npt.NDArray[np.int32], FloatArray, FloatArray]:
        """Term `term`'s pairs: documents, saturated frequencies, evidence (views when they
        are in one block)."""
        pieces = self.pieces(term)
        if len(pieces) == 1:
            k, lo, hi = pieces[0]
            return self.doc[k][lo:hi], self.saturated[k][lo:hi], self.evidence[k][lo:hi]
        if not pieces:
            return np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros(0)
        return (
            np.concatenate([self.doc[k][lo:hi] for k, lo, hi in pieces]),
            np.concatenate([self.saturated[k][lo:hi] for k, lo, hi in pieces]),
            np.concatenate([self.evidence[k][lo:hi] for k, lo, hi in pieces]),
        )

    @classmethod
    def fresh(
        cls,
        parts: Interned,
        comps: IntArray,
        fields: npt.NDArray[np.int16],
        docs: IntArray,
        norms: Norms,
    ) -> Pairs:
        """The pairs of every entry (`docs` ascending), made a block at a time."""
        term, field, count, doc = _expanded(parts, comps, fields, docs)
        order = term_order(term, len(parts.vocab))
        term, field, count, doc = term[order], field[order], count[order], doc[order]
        del order
        starts = _starts(term, doc)
        terms = len(parts.vocab)
        start = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(term[starts], minlength=terms), out=start[1:])
        bounds = [*range(0, len(starts), BLOCK_PAIRS), len(starts)]
        if len(bounds) > 2 and bounds[-2] == bounds[-1]:
            bounds.pop()
        row_at = np.append(starts, len(term))[bounds].tolist()
        blocks = [
            _flat(term[lo:hi], field[lo:hi], count[lo:hi], doc[lo:hi], norms)
            for lo, hi in pairwise(row_at)
        ]
        return cls(
            start,
            tuple(bounds),
            tuple(b[1] for b in blocks),
            tuple(b[2] for b in blocks),
            tuple(b[3] for b in blocks),
        )

    def merged(
        self,
        at: IntArray,
        parts: Interned,
        entries: tuple[IntArray, npt.NDArray[np.int16], IntArray],
        gone: tuple[IntArray, npt.NDArray[np.int16], IntArray],
        norms: Norms,
        before: int,
    ) -> Pairs | None:
        """These pairs (of `before` documents) for a new generation whose rounded averages
        are theirs: `at[i]` is document i's number here when it is unchanged, else -1;
        `entries` (component ids, fields, documents ascending) are the changed documents',
        `gone` those of the documents here that are changed or dropped (numbered here).
        The kept documents keep their order (tools are sorted by name in both), so their
        pairs stay sorted when renumbered. Only the blocks holding a pair of `gone` or the
        place of one of `entries` are made again; the others are shared (their documents
        renumbered when documents came or went). None when the changed pairs are many
        (over MERGE_SHARE, or MAX_SPLICES places): `fresh` is quicker then."""
        kept = np.flatnonzero(at >= 0)
        old_kept = at[kept]  # ascending, as `kept`
        term, field, count, new_doc = _expanded(parts, *entries)
        if not len(kept) or len(term) > MERGE_SHARE * self.size:
            return None
        order = np.argsort(term << 32 | new_doc, kind="stable")
        new = _flat(term[order], field[order], count[order], new_doc[order], norms)
        gone_term, _, _, gone_doc = _expanded(parts, *gone)
        gone_key = np.sort(gone_term << 32 | gone_doc)  # np.unique's first call imports numpy.ma
        distinct = np.ones(len(gone_key), dtype=bool)
        distinct[1:] = gone_key[1:] != gone_key[:-1]
        gone_key = gone_key[distinct]
        if len(gone_key) > 2 * MAX_SPLICES:
            return None
        gone_term, gone_doc = gone_key >> 32, gone_key & 0xFFFFFFFF
        dropped = self._found(gone_term, gone_doc)
        if dropped is None:  # not the pairs these documents made: build afresh
            return None
        placed = self._places(new[0], new[1].astype(np.int64), kept, old_kept, before)
        per_term = np.bincount(new[0], minlength=len(parts.vocab))
        per_term[: len(self.start) - 1] += np.diff(self.start)
        per_term -= np.bincount(gone_term, minlength=len(per_term))
        start = np.zeros(len(per_term) + 1, dtype=np.int64)
        np.cumsum(per_term, out=start[1:])
        renumber = None
        if not np.array_equal(old_kept, kept):  # documents came or went: renumber
            renumber = np.full(before, -1, dtype=np.int32)
            renumber[old_kept] = kept
        return self._spliced(start, new, dropped, placed, renumber)

    def _before(self, term: int, doc: IntArray, right: bool = False) -> IntArray:
        """Per document of `doc` (ascending), how many of term `term`'s pairs come before
        it (`right`: before or at it), counted over the term's blocks."""
        side: Literal["left", "right"] = "right" if right else "left"
        if 0 < len(doc) <= FEW_DOCS:
            return self._before_each(term, doc, side)
        pieces, blocks = self.pieces(term), self.doc
        if len(pieces) <= 1 or not len(doc):
            if not pieces or not len(doc):
                return np.zeros(len(doc), dtype=np.int64)
            k, lo, hi = pieces[0]
            return np.searchsorted(blocks[k][lo:hi], doc, side=side).astype(np.int64)
        # The term's documents ascend over its pieces: each document is searched in the one
        # piece it falls in (the first whose last document is not before it), the pieces
        # before it counted whole. A search in every piece was ~17 ms of a write's CPU at
        # 100,000 scale.py tools (a term every tool holds spans ~25 blocks; ~1,400 searches).
        lasts = np.array([blocks[k][hi - 1] for k, _lo, hi in pieces], dtype=np.int64)
        ahead = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum([hi - lo for _k, lo, hi in pieces], out=ahead[1:])
        which = np.searchsorted(lasts, doc, side=side)
        counted = ahead[which]
        runs = np.flatnonzero(np.diff(which)) + 1
        for a, z in pairwise([0, *runs.tolist(), len(doc)]):
            p = int(which[a])
            if p < len(pieces):
                k, lo, hi = pieces[p]
                counted[a:z] += np.searchsorted(blocks[k][lo:hi], doc[a:z], side=side)
        return counted

    def _before_each(self, term: int, doc: IntArray, side: Literal["left", "right"]) -> IntArray:
        """_before for a few documents: each one's block found by a bisection over the
        blocks the term spans (by the term's last document in each), not by listing them
        (a write's terms are each in a few documents; a term every tool holds spans ~25
        blocks at 100,000 tools)."""
        lo, hi = int(self.start[term]), int(self.start[term + 1])
        if lo == hi:
            return np.zeros(len(doc), dtype=np.int64)
        bounds, blocks = self.bounds, self.doc
        span = range(bisect_right(bounds, lo) - 1, bisect_right(bounds, hi - 1))

        def last(k: int) -> int:
            return int(blocks[k][min(hi, bounds[k + 1]) - 1 - bounds[k]])

        find = bisect_right if side == "right" else bisect_left
        out = np.empty(len(doc), dtype=np.int64)
        for i, d in enumerate(doc.tolist()):
            at = find(span, d, key=last)  # the first block not wholly before `d` (`side`)
            if at == len(span):
                out[i] = hi - lo
                continue
            k = span[at]
            a, z = max(lo, bounds[k]), min(hi, bounds[k + 1])
            found = np.searchsorted(blocks[k][a - bounds[k] : z - bounds[k]], d, side=side)
            out[i] = a - lo + int(found)
        return out

    def _found(self, term: IntArray, doc: IntArray) -> IntArray | None:
        """The places of the pairs (`term`, `doc`), sorted as the pairs are; None when one
        is missing."""
        found = np.empty(len(term), dtype=np.int64)
        for lo, hi in pairwise(_runs(term).tolist()):
            t = int(term[lo])
            if t >= len(self.start) - 1:
                return None
            before = self._before(t, doc[lo:hi])
            if (self._before(t, doc[lo:hi], right=True) - before != 1).any():
                return None
            found[lo:hi] = self.start[t] + before
        return found

    def _places(
        self, term: IntArray, doc: IntArray, kept: IntArray, old_kept: IntArray, before: int
    ) -> IntArray:
        """Where each new pair (sorted) goes among these pairs: before the pair of its term
        of the first kept document that follows its document (its number here: `bound`);
        a term new here, after every pair."""
        follows = np.searchsorted(kept, doc)
        bound = np.where(follows < len(kept), old_kept[np.minimum(follows, len(kept) - 1)], before)
        placed = np.empty(len(term), dtype=np.int64)
        known, end = len(self.start) - 1, self.size
        for lo, hi in pairwise(_runs(term).tolist()):
            t = int(term[lo])
            if t < known:
                placed[lo:hi] = self.start[t] + self._before(t, bound[lo:hi])
            else:
                placed[lo:hi] = end
        return placed

    def _spliced(
        self,
        start: IntArray,
        new: tuple[IntArray, npt.NDArray[np.int32], FloatArray, FloatArray],
        dropped: IntArray,
        placed: IntArray,
        renumber: npt.NDArray[np.int32] | None,
    ) -> Pairs | None:
        """The new generation's blocks: those holding a `dropped` place or a `placed` one
        spliced (`_splices`), the others shared; the pairs of terms new here in a block of
        their own when the last block is full, and a spliced block past twice BLOCK_PAIRS
        cut in two. None past MAX_SPLICES places."""
        blocks = len(self.doc)
        docs = [renumber[d] for d in self.doc] if renumber is not None else list(self.doc)
        saturated, evidence = list(self.saturated), list(self.evidence)
        _new_term, new_doc, new_saturated, new_evidence = new
        extra = None
        known = len(self.start) - 1
        fresh_terms = int(np.searchsorted(_new_term, known))  # the new pairs of known terms
        if fresh_terms < len(_new_term) and len(docs[-1]) >= BLOCK_PAIRS:
            extra = new_doc[fresh_terms:], new_saturated[fresh_terms:], new_evidence[fresh_terms:]
            placed = placed[:fresh_terms]
        bounds = np.asarray(self.bounds, dtype=np.int64)
        drop_block = np.searchsorted(bounds, dropped, side="right") - 1
        new_block = np.minimum(np.searchsorted(bounds, placed, side="right") - 1, blocks - 1)
        splices = 0
        cut: dict[int, int] = {}  # spliced blocks to cut in two: their length
        for k in np.union1d(new_block, drop_block).tolist():
            n_lo, n_hi = np.searchsorted(new_block, [k, k + 1]).tolist()
            d_lo, d_hi = np.searchsorted(drop_block, [k, k + 1]).tolist()
            pieces = _splices(dropped[d_lo:d_hi] - bounds[k], placed[n_lo:n_hi] - bounds[k])
            splices += len(pieces)
            if splices > MAX_SPLICES:
                return None
            docs[k] = _spliced_block(docs[k], new_doc[n_lo:n_hi], pieces)
            saturated[k] = _spliced_block(saturated[k], new_saturated[n_lo:n_hi], pieces)
            evidence[k] = _spliced_block(evidence[k], new_evidence[n_lo:n_hi], pieces)
            if len(docs[k]) > 2 * BLOCK_PAIRS:
                cut[k] = len(docs[k]) // 2
        for k in sorted(cut, reverse=True):
            half = cut[k]
            docs[k : k + 1] = [docs[k][:half], docs[k][half:]]
            saturated[k : k + 1] = [saturated[k][:half], saturated[k][half:]]
            evidence[k : k + 1] = [evidence[k][:half], evidence[k][half:]]
        if extra is not None:
            docs.append(extra[0])
            saturated.append(extra[1])
            evidence.append(extra[2])
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        new_bounds = (0, *np.cumsum(lengths).tolist())
        return Pairs(start, new_bounds, tuple(docs), tuple(saturated), tuple(evidence))


def _flat(
    term: IntArray,
    field: npt.NDArray[np.int16],
    count: npt.NDArray[np.float32],
    doc: IntArray,
    norms: Norms,
) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray, FloatArray]:
    """The pairs of rows sorted by (term, document), a pair's rows in its document's
    component order: per pair its term, document, the fields' pseudo frequencies summed in
    that order (weight x count / norm) and saturated, and the strongest evidence."""
    pseudo = norms.weight.take(field)
    pseudo *= count
    pseudo /= norms.norm.take(doc * norms.fields + field)
    starts = _starts(term, doc)
    tf = np.add.reduceat(pseudo, starts) if len(starts) else pseudo[:0]
    strongest = np.maximum.reduceat(norms.evidence.take(field), starts) if len(starts) else tf
    saturated = tf / (K1 + tf)
    return term[starts], doc[starts].astype(np.int32), saturated, strongest


def _runs(term: IntArray) -> IntArray:
    """Where each run of equal terms starts, and the end."""
    if not len(term):
        return np.zeros(1, dtype=np.int64)
    return np.flatnonzero(np.r_[True, term[1:] != term[:-1], True])


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


def _spliced_block(old: _Array, new: _Array, pieces: list[tuple[int, int, int]]) -> _Array:
    end = len(old)
    parts = [
        (new if source else old)[lo : (end if hi < 0 and not source else hi)]
        for source, lo, hi in pieces
    ]
    return np.concatenate(parts) if parts else old[:0].copy()  # type: ignore[return-value]
