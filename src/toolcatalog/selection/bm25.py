"""A BM25F index over documents with weighted fields, stored as per-term postings in numpy
arrays so that scoring a request is a handful of vectorised gathers and one bincount.

BM25F (Robertson & Zaragoza 2009): a term's frequency is summed over fields, each scaled by the
field's weight and length normalisation, then saturated once per document with k1. The
postings hold each (term, document) pair's saturated frequency, and a query multiplies a
term's postings by its weight x IDF and adds them: the IDF, which almost every write moves,
is not baked into the postings, so a write recomputes only its own documents' pairs
(bm25_postings.py, where the average field lengths are rounded for the same reason).

A document is a list of components, (field, terms) pairs, each interned once (interned.py). A few
documents scored at query time with this index's IDF (a tool's patterns): field_scorer.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress, islice

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.bm25_postings import K1, Norms, Pairs, rounded_average
from toolcatalog.selection.interned import Interned, Terms
from toolcatalog.selection.symmetric_deletes import (
    MIN_CORRECTED,
    changed_deletes,
    deletes_of,
    neighbours,
)

__all__ = [
    "K1",
    "BM25FIndex",
    "Component",
    "Document",
    "FieldSpec",
    "saturate",
]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    weight: float
    b: float  # length normalisation: 0 for short fixed fields (names), ~0.75 for prose
    # How much a term found (only) in this field says the document is *about* the term, for
    # coverage: a tool's own description counts fully, a word in one of its examples less.
    evidence: float = 1.0


Component = tuple[str, Terms]  # (field name, the terms of one text in that field)
Document = Sequence[Component]


def saturate(tf: float) -> float:
    return tf / (K1 + tf)


class BM25FIndex:
    """Immutable once built; `score` is safe to call from many threads.

    `parts` carries the interned components of an earlier build of the same catalog (a new
    generation after a write): only the changed tools' new components are counted, and
    `previous` (the index built with those parts last) lends its vocabulary and spelling
    table when the terms did not change. The result is the same as a build from nothing:
    term ids may differ, but every posting, statistic and score is equal to the bit (field
    lengths are whole numbers, so their sums and averages do not depend on order, and the
    averages are rounded alike: bm25_postings.rounded_average)."""

    def __init__(
        self,
        docs: Sequence[Document],
        fields: Mapping[str, FieldSpec],
        spelling: bool = True,
        *,
        parts: Interned | None = None,
        previous: BM25FIndex | None = None,
        kept: Sequence[int] | IntArray = (),
    ) -> None:
        """`kept[i]`: doc i's position in `previous` when it is unchanged (else -1); with
        `parts` that `previous` was built with, its interned components are reused."""
        self.size = len(docs)
        self.fields = dict(fields)
        parts = parts if parts is not None else Interned()
        self.parts = parts
        layout = self._lay_out(docs, previous, kept)
        # Each term's pairs are a slice: as many as documents hold the term.
        df = self._pairs(layout, previous)
        self._known = len(parts.vocab)
        self.vocab: dict[str, int]
        self._terms: list[str]
        self._name_terms(previous)
        # Per interned term id (0 for the terms no document holds any more: this index
        # does not know them, see `_id`).
        df = df.astype(np.float64)
        self.idf: FloatArray = np.log1p((self.size - df + 0.5) / (df + 0.5))
        self.df = df
        self.max_idf = float(np.log1p((self.size + 0.5) / 0.5))
        # Built eagerly (about 3 ms per 1,000 terms) so no request pays for it; after a write,
        # from the previous table and the terms that came and went.
        self._deletes: dict[str, list[str]] = {}
        # No term is longer (a bound: a term gone keeps it), so `correction` makes no edits
        # of a longer word: a hostile 4,000-letter word's 4,000 deletions cost ~45 ms.
        self._longest = _NO_BOUND
        if spelling:
            if previous is not None and previous._deletes:
                came, gone = self._changes(previous)
                self._deletes = changed_deletes(previous._deletes, came, gone)
                self._longest = max(previous._longest, max(map(len, came), default=0))
            else:
                words = self.words()
                self._deletes = deletes_of(words)
                self._longest = max(map(len, words), default=0)

    def _lay_out(
        self, docs: Sequence[Document], previous: BM25FIndex | None, kept: Sequence[int] | IntArray
    ) -> _Layout:
        """Each document's component ids and field ids, all documents' in two flat arrays
        (document i's at _doc_start[i]:_doc_start[i + 1]), kept for the next generation; the
        unchanged documents' copied from `previous` by runs (documents kept in a row: a
        write's few cuts; a gather of every entry was ~40 ms a write at 100,000 tools).
        An array pair per document held 1.5 KiB a generated tool as a restart loads it
        (bench/memory.py); flat, 6 bytes a component."""
        n, parts = self.size, self.parts
        field_id = {name: i for i, name in enumerate(self.fields)}
        reusable = previous is not None and previous.parts is parts and len(kept) == n
        at = np.asarray(kept, dtype=np.int64) if reusable else np.full(n, -1, dtype=np.int64)
        changed = np.flatnonzero(at < 0)
        new_comps: list[list[int]] = []
        new_fields: list[list[int]] = []
        for i in changed.tolist():
            doc = docs[i]  # only the changed documents are asked for (see CatalogIndex)
            names, texts = zip(*doc, strict=True) if doc else ((), ())
            new_comps.append(parts.ids(texts))
            new_fields.append(list(map(field_id.__getitem__, names)))
        per_doc = np.zeros(n, dtype=np.int64)
        per_doc[changed] = np.fromiter(map(len, new_comps), dtype=np.int64, count=len(new_comps))
        if previous is not None and reusable:
            per_doc[at >= 0] = np.diff(previous._doc_start)[at[at >= 0]]
        self._doc_start: IntArray = np.concatenate(([0], np.cumsum(per_doc))).astype(np.int64)
        comps = np.fromiter(chain.from_iterable(new_comps), dtype=np.int32)
        fields = np.fromiter(chain.from_iterable(new_fields), dtype=np.int16)
        if previous is None or not reusable or len(changed) == n:
            self._doc_comps, self._doc_fields = comps, fields
        else:
            self._doc_comps, self._doc_fields = _by_runs(
                at, changed, previous, self._doc_start, comps, fields
            )
        dropped = np.zeros(0, dtype=np.int64)
        if previous is not None and reusable:
            held = np.zeros(previous.size, dtype=bool)
            held[at[at >= 0]] = True
            dropped = np.flatnonzero(~held)
        return _Layout(at, changed, comps, fields, dropped)

    def _pairs(self, layout: _Layout, previous: BM25FIndex | None) -> IntArray:
        """The (term, document) pairs (bm25_postings.Pairs, `postings`), sorted by term then
        document, so each term's postings are one slice: per pair its document, saturated
        pseudo frequency and strongest field evidence. `previous`'s pairs with the changed
        documents' spliced into the blocks of their terms when it kept them for these
        interned texts under the same rounded averages; else made from every document's
        terms. Returns each term's document frequency; sets `average_length` and
        `parts.used`."""
        n, fields, parts = self.size, self.fields, self.parts
        nf = len(fields)
        # The field lengths' totals over all documents (the changed and dropped documents'
        # counted, the others' carried in the previous totals), and their averages: whole
        # numbers, so the same bits whatever the order, then rounded (AVERAGE_BITS).
        totals, counted = self._totals_of(layout, previous)
        means = (totals / n).tolist() if n else [1.0] * nf
        average = np.array([rounded_average(m) for m in means], dtype=np.float64)
        specs = list(fields.values())
        b = np.array([f.b for f in specs], dtype=np.float64)
        weight = np.array([f.weight for f in specs], dtype=np.float64)
        evidence = np.array([f.evidence for f in specs], dtype=np.float64)
        self.average_length = {f: float(average[i]) for i, f in enumerate(fields)}
        before = getattr(previous, "_kept_pairs", None)
        pairs = None
        # As _lay_out: the unchanged documents were laid out from `previous`.
        if (
            before is not None
            and previous is not None
            and counted is not None
            and previous.average_length == self.average_length
        ):
            # Only the changed documents' pairs are made: their (document, field) cells'
            # length norms (the others' cells are never read; zero pages until written).
            norm = np.zeros(n * nf, dtype=np.float64)
            norm.reshape(n, nf)[layout.changed] = 1.0 - b + b * counted / average
            norms = Norms(norm, weight, evidence, nf)
            per_changed = np.diff(self._doc_start)[layout.changed]
            changed_entries = (
                layout.comps.astype(np.int64),
                layout.fields,
                np.repeat(layout.changed, per_changed),
            )
            gone = previous._entries_of(layout.dropped)
            pairs = before.merged(layout.at, parts, changed_entries, gone, norms, previous.size)
        if pairs is None:
            row_doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(self._doc_start))
            comps = self._doc_comps.astype(np.int64)
            lengths = self._lengths(row_doc, comps)
            # Each (document, field) cell's length norm.
            norms = Norms((1.0 - b + b * lengths / average).ravel(), weight, evidence, nf)
            pairs = Pairs.fresh(parts, comps, self._doc_fields, row_doc, norms)
        self._kept_pairs: Pairs = pairs
        return np.diff(pairs.start)

    def _entries_of(self, docs: IntArray) -> tuple[IntArray, npt.NDArray[np.int16], IntArray]:
        """Documents `docs`' entries (ascending): component ids, fields, documents."""
        starts = self._doc_start[docs]
        counts = self._doc_start[docs + 1] - starts
        entries = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(
            int(counts.sum()), dtype=np.int64
        )
        return (
            self._doc_comps[entries].astype(np.int64),
            self._doc_fields[entries],
            np.repeat(docs, counts),
        )

    def _lengths(self, row_doc: IntArray, comps: IntArray) -> FloatArray:
        """Every document's field lengths (documents x fields), counted from its entries."""
        n, nf = self.size, len(self.fields)
        comp_len = self.parts.arrays()[0]
        slots = row_doc * nf + self._doc_fields
        counted = np.bincount(slots, weights=comp_len[comps], minlength=n * nf)
        return np.asarray(counted, dtype=np.float64).reshape(n, nf)

    def _totals_of(
        self, layout: _Layout, previous: BM25FIndex | None
    ) -> tuple[FloatArray, FloatArray | None]:
        """Each field's total length over all documents (`_totals`) and the changed
        documents' lengths (None when every document was counted); sets `parts.used` from
        the count of documents using each interned component (`_uses`). From `previous`'s
        totals and uses, the dropped documents' taken off and the changed ones' put on:
        counting every entry again was ~15 ms a write at 100,000 tools, and a table of every
        document's lengths would hold 11 MB there."""
        n, parts, nf = self.size, self.parts, len(self.fields)
        comp_len = parts.arrays()[0]
        if previous is None or len(layout.changed) == n:
            row_doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(self._doc_start))
            comps = self._doc_comps.astype(np.int64)
            self._totals: FloatArray = self._lengths(row_doc, comps).sum(axis=0)
            self._uses = np.bincount(comps, minlength=len(parts.keep)).astype(np.int32)
            parts.used = int(np.count_nonzero(self._uses))
            return self._totals, None
        changed = layout.changed
        local = np.repeat(np.arange(len(changed)), np.diff(self._doc_start)[changed])
        comps = layout.comps.astype(np.int64)
        counted: FloatArray = np.asarray(
            np.bincount(
                local * nf + layout.fields, weights=comp_len[comps], minlength=len(changed) * nf
            ),
            dtype=np.float64,
        ).reshape(len(changed), nf)
        gone, gone_fields, _docs = previous._entries_of(layout.dropped)
        gone_lengths = np.bincount(gone_fields, weights=comp_len[gone], minlength=nf)
        self._totals = previous._totals - gone_lengths + counted.sum(axis=0)
        uses = np.zeros(len(parts.keep), dtype=np.int32)
        uses[: len(previous._uses)] = previous._uses
        uses -= np.bincount(gone, minlength=len(parts.keep)).astype(np.int32)
        uses += np.bincount(comps, minlength=len(parts.keep)).astype(np.int32)
        self._uses = uses
        parts.used = int(np.count_nonzero(uses))
        return self._totals, counted

    def _name_terms(self, previous: BM25FIndex | None) -> None:
        """Set `vocab` (each term's interned id) and `_terms` (each id's term) for the
        interned terms. Ids never change, so the previous index's tables serve this one too,
        with the terms interned since added: an index reads only the ids under its own count
        that some document holds (`_id`), so the previous one answers as before. A copy per
        write was ~10 ms at 100,000 tools (one name word each), and the spelling table's
        comparison of the two vocabularies ~40 ms (`_changes` compares document frequencies)."""
        parts = self.parts
        if previous is not None and previous.parts is parts:
            self.vocab, self._terms = previous.vocab, previous._terms
            came = list(islice(reversed(parts.vocab.items()), self._known - len(self._terms)))
            came.reverse()
            self.vocab.update(came)
            self._terms.extend(term for term, _ in came)
        else:
            self.vocab = dict(parts.vocab)
            self._terms = list(parts.vocab)

    def _changes(self, previous: BM25FIndex) -> tuple[list[str], list[str]]:
        """The terms this index holds that `previous` did not, and those it no longer holds."""
        if previous.parts is not self.parts:  # compared word by word
            before, after = set(previous.words()), set(self.words())
            return list(after - before), list(before - after)
        held = self.df > 0
        held_before = np.zeros(len(held), dtype=bool)
        held_before[: len(previous.df)] = previous.df > 0
        came = np.flatnonzero(held & ~held_before).tolist()
        gone = np.flatnonzero(held_before & ~held).tolist()
        return [self._terms[i] for i in came], [self._terms[i] for i in gone]

    def _id(self, term: str) -> int | None:
        """The term's id here; None when this index does not hold it: not interned when it
        was built (the shared table holds the terms of indexes derived since), or held by
        no document any more."""
        i = self.vocab.get(term)
        return None if i is None or i >= self._known or not self.df[i] else i

    def words(self) -> list[str]:
        """This index's terms (a build adds to the shared tables under the interned texts'
        lock: hold it, or call this on an index nothing derives from)."""
        return list(compress(self._terms[: self._known], (self.df > 0).tolist()))

    def detached(self, parts: Interned) -> BM25FIndex:
        """A shallow copy over `parts` (a copy of this index's interned texts) with tables of
        terms of its own: one to pickle while builds go on adding to the shared ones."""
        out = copy.copy(self)
        with self.parts.lock:
            out._terms = self._terms[: self._known]
        out.vocab = dict(zip(out._terms, range(self._known), strict=True))
        out.parts = parts
        return out

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._id(term) is not None

    def document(self, i: int) -> list[Component]:
        """Document `i` as it was given, made again from its component and field ids: the
        very term tuples, held once in `parts`, so an index need not keep its documents
        (a list and a pair per component: 1.3 KiB a generated tool, bench/memory.py)."""
        names = tuple(self.fields)
        texts = self.parts.keep
        start, end = int(self._doc_start[i]), int(self._doc_start[i + 1])
        comps, fields = self._doc_comps[start:end].tolist(), self._doc_fields[start:end].tolist()
        return [(names[f], texts[c]) for c, f in zip(comps, fields, strict=True)]

    def document_frequency(self, term: str) -> int:
        """How many documents hold `term` (0 when none does)."""
        i = self._id(term)
        return 0 if i is None else int(self.df[i])

    def documents_with(self, term: str) -> IntArray:
        """The documents that hold `term`, in order (none when no document does)."""
        i = self._id(term)
        if i is None:
            return np.zeros(0, dtype=np.int64)
        return self._kept_pairs.of(i)[0].astype(np.int64)

    def postings(self, term: str) -> tuple[npt.NDArray[np.int32], FloatArray, FloatArray]:
        """The term's postings (read-only views): the documents that hold it, in order, and
        per document its saturated frequency (without the IDF) and strongest evidence."""
        i = self._id(term)
        if i is None:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int32), empty, empty
        return self._kept_pairs.of(i)

    def idf_of(self, term: str) -> float:
        """The term's IDF; an unknown term counts as the rarest possible."""
        i = self._id(term)
        return self.max_idf if i is None else float(self.idf[i])

    def score(
        self, query: Mapping[str, float], covering: Mapping[str, float]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-document BM25F scores; per-document sums of `covering[term]` x IDF x evidence
        over the terms the document contains (how much of the request it covers, a term found
        only in a weak-evidence field counting less); and how many of the `covering` terms each
        document contains, weighted the same way by evidence.

        Each term's postings are added in query order, as one bincount over all of them would
        add them (the same sums, bit for bit: tested), but without concatenating them, a
        block of the postings at a time (bm25_postings.Pairs): a run of consecutive
        documents (a word every generated tool shares) is one slice add, others a scatter
        into their documents. At 100,000 tools with three such words per request this went
        from 6.8 to 0.5 ms of CPU."""
        n, pairs = self.size, self._kept_pairs
        scores, cover, count = np.zeros(n), np.zeros(n), np.zeros(n)
        for term, weight in query.items():
            i = self._id(term)
            if i is None:
                continue
            idf = self.idf[i]
            for k, lo, hi in pairs.pieces(i):
                docs = _where(pairs.doc[k][lo:hi])
                _add(scores, docs, pairs.saturated[k][lo:hi] * (weight * idf))
                if term in covering:  # other terms add zeros to these, changing no bit
                    evidence = pairs.evidence[k][lo:hi]
                    _add(cover, docs, evidence * (idf * covering[term]))
                    _add(count, docs, evidence)
        return scores, cover, count

    def terms_in(self, docs: Sequence[int], terms: Iterable[str]) -> list[list[str]]:
        """For each of `docs`, those of `terms` it contains (for explanations): one
        vectorised lookup per term for all the documents, not one per term and document."""
        found: list[list[str]] = [[] for _ in docs]
        if not docs:
            return found
        wanted = np.asarray(docs, dtype=np.int64)
        for term in terms:
            i = self._id(term)
            if i is None:
                continue
            postings = self._kept_pairs.of(i)[0]
            at = np.minimum(np.searchsorted(postings, wanted), len(postings) - 1)
            for k in np.flatnonzero(postings[at] == wanted).tolist():
                found[k].append(term)
        return found

    def correction(self, term: str) -> str | None:
        """The indexed term one edit away from `term` (a typo such as `proccess` or `waht`),
        preferring the most common; None when there is none. Words under 6 letters are left
        alone: at that length one edit reaches too many unrelated words (paris -> pars)."""
        if len(term) < MIN_CORRECTED or not term.isalpha() or term in self:
            return None
        if len(term) > self._longest + 1:  # every word one edit from it is longer than any
            return None
        found = neighbours(term, self._deletes, self)
        if not found and not term.endswith("e"):
            # The stemmer drops a final e ("rotate" -> "rotat") but words kept whole keep
            # theirs (a synonym group's canonical "certificate"): the typo "certficate" stems
            # to "certficat", two edits from "certificate" and one from it with its e back.
            found = neighbours(term + "e", self._deletes, self)
        if not found:
            return None
        return max(sorted(found), key=lambda w: self.df[self.vocab[w]])


# `_longest` of an index without spelling tables: no bound (correction works as it did).
_NO_BOUND = 1 << 62


def _where(docs: npt.NDArray[np.int32]) -> npt.NDArray[np.int32] | slice:
    """Where postings' values go: their documents, or the slice of them when they are
    consecutive (postings are sorted and distinct, so as many as the documents they span
    are every one of them)."""
    first = int(docs[0])
    return slice(first, first + len(docs)) if int(docs[-1]) - first + 1 == len(docs) else docs


def _add(into: FloatArray, docs: npt.NDArray[np.int32] | slice, values: FloatArray) -> None:
    """`into[docs] += values` in place (a slice: one add over consecutive documents)."""
    into[docs] += values


@dataclass(frozen=True, slots=True)
class _Layout:
    """A build's documents against the previous index's: per document its number there
    (-1: changed or new), the changed documents, and their entries' component and field
    ids (in document order); and the previous index's documents changed or dropped."""

    at: IntArray
    changed: IntArray
    comps: npt.NDArray[np.int32]
    fields: npt.NDArray[np.int16]
    dropped: IntArray


def _by_runs(
    at: IntArray,
    changed: IntArray,
    previous: BM25FIndex,
    doc_start: IntArray,
    comps: npt.NDArray[np.int32],
    fields: npt.NDArray[np.int16],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int16]]:
    """The flat component and field ids of every document: the kept documents' copied from
    `previous` a run at a time (documents kept in a row, at consecutive numbers there), the
    changed ones' from `comps` and `fields` (their entries, in document order)."""
    kept = np.flatnonzero(at >= 0)
    cut = np.flatnonzero((np.diff(kept) != 1) | (np.diff(at[kept]) != 1)) + 1
    first, last = kept[np.r_[0, cut]], kept[np.r_[cut - 1, len(kept) - 1]]
    new_start = np.r_[0, np.cumsum(np.diff(doc_start)[changed])].tolist()
    # In document order: (document, previous's entries lo:hi, -1) for a run of kept
    # documents, (document, 0, 0, k) for the k-th changed one.
    pieces = [
        (d, int(previous._doc_start[a]), int(previous._doc_start[z + 1]), -1)
        for d, a, z in zip(first.tolist(), at[first].tolist(), at[last].tolist(), strict=True)
    ]
    pieces += [(d, 0, 0, k) for k, d in enumerate(changed.tolist())]
    pieces.sort()
    out_comps, out_fields = [], []
    for _document, lo, hi, k in pieces:
        if k < 0:
            out_comps.append(previous._doc_comps[lo:hi])
            out_fields.append(previous._doc_fields[lo:hi])
        else:
            out_comps.append(comps[new_start[k] : new_start[k + 1]])
            out_fields.append(fields[new_start[k] : new_start[k + 1]])
    return np.concatenate(out_comps), np.concatenate(out_fields)
