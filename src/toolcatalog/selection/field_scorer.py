"""BM25F at query time for a few small documents (a pooled tool's patterns), with the IDF of
a BM25F index (bm25.py): no postings, each distinct document's saturated frequencies made once
and kept, within bounds."""

from __future__ import annotations

from collections.abc import Mapping

from toolcatalog.selection.bm25 import BM25FIndex, FieldSpec, saturate
from toolcatalog.selection.interned import Terms

# What a FieldScorer keeps: past either bound the kept entries are dropped at once and the
# next requests make them again, so a long run of varied selects over a large catalog holds
# at most this many, not one per pattern (and per tool) ever scored. A tool's table is ~12
# KiB, a document's frequencies ~2 KiB (the starter catalog's, tracemalloc).
FIELD_SCORER_DOCUMENTS = 8_192
FIELD_SCORER_TABLES = 2_048


class FieldScorer:
    """BM25F for a few small documents scored at query time (a pooled tool's patterns), with
    the IDF of a larger index. A document is the terms of each of `fields`, in that order
    (no field names held beside them). Each distinct document is turned into pseudo
    frequencies once and kept (up to `documents`; tables up to `tables`): a catalog repeats
    its patterns, and a request touches only its pool's."""

    def __init__(
        self,
        fields: Mapping[str, FieldSpec],
        average: Mapping[str, float],
        documents: int = FIELD_SCORER_DOCUMENTS,
        tables: int = FIELD_SCORER_TABLES,
    ) -> None:
        self.fields = dict(fields)
        self.average = {f: max(average.get(f, 1.0), 1.0) for f in fields}
        self.limits = documents, tables
        # Per field, in order: (weight, b, average length).
        self._specs = [(s.weight, s.b, self.average[f]) for f, s in self.fields.items()]
        self._cache: dict[tuple[Terms, ...], dict[str, float]] = {}
        self._tables: dict[tuple[tuple[Terms, ...], ...], dict[str, list[tuple[int, float]]]] = {}

    def frequencies(self, doc: tuple[Terms, ...]) -> dict[str, float]:
        """The document's saturated pseudo term frequencies (term -> tf / (K1 + tf))."""
        found = self._cache.get(doc)
        if found is not None:
            return found
        tf: dict[str, float] = {}
        for (weight, b, average), terms in zip(self._specs, doc, strict=True):
            share = weight / (1.0 - b + b * len(terms) / average)
            for term in terms:
                tf[term] = tf.get(term, 0.0) + share
        saturated = {term: saturate(f) for term, f in tf.items()}
        if len(self._cache) >= self.limits[0]:
            self._cache.clear()  # one step, safe beside other threads' gets and sets
        self._cache[doc] = saturated  # a benign race: two threads compute the same value
        return saturated

    def table(self, docs: tuple[tuple[Terms, ...], ...]) -> dict[str, list[tuple[int, float]]]:
        """term -> [(position in `docs`, saturated frequency)] over a few documents (a tool's
        patterns), kept per distinct tuple of documents: tools that share their patterns
        (copies of one tool, a generated catalog's) share one table."""
        found = self._tables.get(docs)
        if found is not None:
            return found
        out: dict[str, list[tuple[int, float]]] = {}
        for k, doc in enumerate(docs):
            for term, f in self.frequencies(doc).items():
                out.setdefault(term, []).append((k, f))
        if len(self._tables) >= self.limits[1]:
            self._tables.clear()  # as in `frequencies`
        self._tables[docs] = out  # a benign race, as in `frequencies`
        return out

    @staticmethod
    def weigh(query: Mapping[str, float], index: BM25FIndex) -> dict[str, float]:
        """The query's term weights times their IDF in `index`: computed once per request,
        then applied to each document's `frequencies` (or a `table` of them)."""
        return {term: weight * index.idf_of(term) for term, weight in query.items()}

    def score(self, doc: tuple[Terms, ...], query: Mapping[str, float], index: BM25FIndex) -> float:
        tf = self.frequencies(doc)
        return sum(w * tf.get(term, 0.0) for term, w in self.weigh(query, index).items())
