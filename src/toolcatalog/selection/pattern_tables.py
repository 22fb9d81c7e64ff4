"""A pooled tool's patterns scored at query time: each tool's patterns tabled by term once
(FieldScorer, with the IDF of the catalog's BM25F index) and kept, within a bound on the tools
kept, so a request looks each of its terms up once per tool, not once per pattern."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from toolcatalog.selection.arrays import IntArray
from toolcatalog.selection.bm25 import BM25FIndex
from toolcatalog.selection.documents import PatternDoc
from toolcatalog.selection.field_scorer import FieldScorer

# Tools whose pattern tables are kept (`table`): past it the kept tables are dropped at once
# and made again by the next requests, so an index's memory does not grow with every tool a
# long run of varied selects has scored (~20 KiB a starter tool with its FieldScorer
# documents, tracemalloc: ~2 GiB were 100,000 such tools all scored once). A request tables
# the ~20 tools it shortlists; above TABLE_AHEAD_MAX_TOOLS, so every tool of a catalog tabled
# ahead stays.
TABLED_TOOLS = 2_048

Table = dict[str, list[tuple[int, float]]]  # term -> [(pattern of the tool, frequency)]


class PatternTables:
    """The pattern tables of one CatalogIndex (`CatalogIndex.pattern_tables`): `docs[i]` are
    tool i's pattern documents, at start[i]:start[i + 1] in the index's pattern order. What
    requests fill in is a benign race each: the same value either way."""

    def __init__(
        self,
        docs: Sequence[tuple[PatternDoc, ...]],
        start: IntArray,
        scorer: FieldScorer,
        index: BM25FIndex,
    ) -> None:
        self.docs, self.start, self.scorer, self.index = docs, start, scorer, index
        self.tables: dict[int, Table] = {}
        self.limit = TABLED_TOOLS

    def weigh(self, terms: Mapping[str, float]) -> dict[str, float]:
        """The request's terms weighted by their IDF, for `scores`."""
        return self.scorer.weigh(terms, self.index)

    def scores(self, tool: int, weighted: Mapping[str, float]) -> list[float]:
        """BM25F scores of tool `tool`'s patterns for the request (`weigh`ed terms), in
        order. Each tool's patterns are tabled once (term -> saturated frequency in each
        pattern; FieldScorer.table, shared by tools with the same patterns), so a request
        looks each of its terms up once per tool, not per pattern."""
        start, end = int(self.start[tool]), int(self.start[tool + 1])
        if end - start == 1:
            return [0.0]  # a lone pattern fits its tool's relevance whatever it scores
        table = self.tables.get(tool)
        if table is None:
            table = self.table(tool)
        scores = [0.0] * (end - start)
        for term, weight in weighted.items():
            row = table.get(term)
            if row is not None:
                for k, f in row:
                    scores[k] += weight * f
        return scores

    def table(self, tool: int) -> Table:
        """Tool `tool`'s patterns tabled by term (see `scores`), made on first use and kept
        (rulings.rule_ahead makes them ahead for smaller catalogs). A tool with one pattern
        has none: its pattern's score is never read."""
        table = self.tables.get(tool)
        if table is None:
            start, end = int(self.start[tool]), int(self.start[tool + 1])
            if end - start == 1:
                return {}
            table = self.scorer.table(self.docs[tool])
            if len(self.tables) >= self.limit:
                self.tables.clear()  # one atomic step, safe beside other threads
            self.tables[tool] = table  # a benign race: the same value either way
        return table
