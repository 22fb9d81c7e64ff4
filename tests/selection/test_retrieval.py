"""The catalog index of one snapshot: its per-request pattern tables."""

from __future__ import annotations

from pathlib import Path

from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.retrieval import CatalogIndex


def test_pattern_tables_stay_bounded_and_score_as_a_fresh_index_does() -> None:
    # A long run of varied requests tables every tool it scores; the tables (and the pattern
    # scorer's documents) are dropped past their bound and made again alike.
    snapshot = load_folder_snapshot(Path(__file__).resolve().parents[2] / "catalog", strict=False)
    bounded, fresh = CatalogIndex(snapshot), CatalogIndex(snapshot)
    bounded.pattern_tables.limit, bounded.pattern_tables.scorer.limits = 7, (11, 5)
    fresh.pattern_tables.limit, fresh.pattern_tables.scorer.limits = 10**9, (10**9, 10**9)
    for words in ({"disk": 1.0, "usage": 1.0}, {"log": 1.0, "search": 2.0, "error": 1.0}):
        for tool in range(len(snapshot.tools)):
            got = bounded.pattern_tables.scores(tool, bounded.pattern_tables.weigh(words))
            assert len(bounded.pattern_tables.tables) <= 7
            assert len(bounded.pattern_tables.scorer._cache) <= 11
            assert len(bounded.pattern_tables.scorer._tables) <= 5
            assert got == fresh.pattern_tables.scores(tool, fresh.pattern_tables.weigh(words))
    assert len(fresh.pattern_tables.tables) > 100
