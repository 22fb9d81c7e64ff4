"""The vectorised BM25F index against a plain reference implementation, on both of its
sort paths (a vocabulary under 2**16 terms is radix-sorted as uint16)."""

from __future__ import annotations

import math
import random

import pytest

from toolcatalog.selection.bm25 import K1, BM25FIndex, FieldScorer, FieldSpec

FIELDS = {"name": FieldSpec(3.0, 0.0), "text": FieldSpec(1.0, 0.75, evidence=0.5)}


def reference(docs: list[dict[str, list[str]]], query: dict[str, float]) -> list[float]:
    n = len(docs)
    average = {f: max(sum(len(d.get(f, [])) for d in docs) / n, 1.0) for f in FIELDS}
    scores = []
    for doc in docs:
        total = 0.0
        for term, weight in query.items():
            df = sum(any(term in d.get(f, []) for f in FIELDS) for d in docs)
            if not df:
                continue
            tf = 0.0
            for f, spec in FIELDS.items():
                words = doc.get(f, [])
                norm = 1 - spec.b + spec.b * len(words) / average[f]
                tf += spec.weight * words.count(term) / norm
            idf = math.log1p((n - df + 0.5) / (df + 0.5))
            total += weight * idf * tf / (K1 + tf)
        scores.append(total)
    return scores


def _index(docs: list[dict[str, list[str]]]) -> BM25FIndex:
    return BM25FIndex(
        [[(f, tuple(words)) for f, words in d.items()] for d in docs], FIELDS, spelling=False
    )


@pytest.mark.parametrize("extra_terms", [0, 70_000], ids=["small-vocabulary", "large-vocabulary"])
def test_scores_match_the_reference_bm25f(extra_terms: int) -> None:
    rng = random.Random(3)
    words = ["disk", "space", "log", "rotate", "service", "restart", "memory", "cpu"]
    docs = [
        {
            "name": [rng.choice(words)],
            "text": [rng.choice(words) for _ in range(rng.randrange(1, 12))],
        }
        for _ in range(40)
    ]
    docs[0]["text"] += [f"rare{i}" for i in range(extra_terms)]
    index = _index(docs)
    assert (len(index.vocab) >= 2**16) == bool(extra_terms)
    query = {"disk": 1.0, "restart": 0.5, "log": 1.0, "nowhere": 1.0}
    scores, _, _ = index.score(query, {})
    assert list(scores) == pytest.approx(reference(docs, query), rel=1e-9)


def test_coverage_counts_a_weak_field_by_its_evidence() -> None:
    docs = [{"name": ["disk"]}, {"text": ["disk"]}, {"name": ["cpu"]}]
    index = _index(docs)
    _, cover, matches = index.score({"disk": 1.0}, {"disk": 1.0})
    idf = index.idf_of("disk")
    assert list(cover) == pytest.approx([idf, 0.5 * idf, 0.0])
    assert list(matches) == pytest.approx([1.0, 0.5, 0.0])


def test_field_scorer_agrees_with_the_index_on_one_document() -> None:
    docs = [{"name": ["disk"], "text": ["disk", "space", "full"]}, {"text": ["log"]}]
    index = _index(docs)
    scorer = FieldScorer(FIELDS, {"name": 0.5, "text": 2.0})  # the index's own averages
    doc = tuple((f, tuple(w)) for f, w in docs[0].items())
    expected, _, _ = index.score({"disk": 1.0, "full": 1.0}, {})
    assert scorer.score(doc, {"disk": 1.0, "full": 1.0}, index) == pytest.approx(expected[0])
