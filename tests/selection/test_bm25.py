"""The vectorised BM25F index against a plain reference implementation, on both of its
sort paths (a vocabulary under 2**16 terms is radix-sorted as uint16)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from toolcatalog.selection import bm25_postings
from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.bm25 import K1, BM25FIndex, FieldSpec
from toolcatalog.selection.bm25_postings import AVERAGE_BITS, rounded_average, term_order
from toolcatalog.selection.field_scorer import FieldScorer

FIELDS = {"name": FieldSpec(3.0, 0.0), "text": FieldSpec(1.0, 0.75, evidence=0.5)}


def reference(docs: list[dict[str, list[str]]], query: dict[str, float]) -> list[float]:
    n = len(docs)
    average = {f: rounded_average(sum(len(d.get(f, [])) for d in docs) / n) for f in FIELDS}
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


@pytest.mark.parametrize("terms", [300, 2**16, 2**16 + 1, 2**20])
def test_term_order_is_the_stable_sort_of_the_terms(terms: int) -> None:
    """Past 2**16 terms the order comes from two 16-bit passes: the same permutation."""
    rng = np.random.default_rng(terms)
    row_term = rng.integers(0, terms, 50_000).astype(np.int64)
    row_term[:3] = terms - 1  # the highest id, where the high half matters
    assert np.array_equal(term_order(row_term, terms), np.argsort(row_term, kind="stable"))


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
    doc = tuple(tuple(docs[0].get(f, [])) for f in FIELDS)  # its terms in FIELDS' order
    expected, _, _ = index.score({"disk": 1.0, "full": 1.0}, {})
    assert scorer.score(doc, {"disk": 1.0, "full": 1.0}, index) == pytest.approx(expected[0])


def _one_bincount(
    index: BM25FIndex, query: dict[str, float], covering: dict[str, float]
) -> list[FloatArray]:
    """The scores as they were computed before: every term's postings concatenated and
    summed by one bincount each (the per-term adds must give the same bits)."""
    docs: list[IntArray] = []
    score: list[FloatArray] = []
    cover: list[FloatArray] = []
    count: list[FloatArray] = []
    for term, weight in query.items():
        i = index._id(term)
        if i is None:
            continue
        held, saturated, evidence = index.postings(term)
        docs.append(held)
        score.append(saturated * (weight * index.idf[i]))
        cover.append(evidence * (index.idf[i] * covering.get(term, 0.0)))
        count.append(evidence if term in covering else np.zeros(len(held)))
    if not docs:
        return [np.zeros(index.size) for _ in range(3)]
    at = np.concatenate(docs)
    return [
        np.bincount(at, weights=np.concatenate(parts), minlength=index.size)
        for parts in (score, cover, count)
    ]


@pytest.mark.parametrize(("seed", "block_pairs"), [(1, 4096), (2, 4096), (3, 7)])
def test_per_term_adds_give_the_bits_of_one_bincount(
    seed: int, block_pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Words every document holds (as "generated tool" in a generated catalog) take the
    # slice path, the rest the scatter path; weights and covering vary; small blocks
    # (`block_pairs`) add a term's postings a block at a time.
    monkeypatch.setattr(bm25_postings, "BLOCK_PAIRS", block_pairs)
    rng = random.Random(seed)
    words = [f"w{k}" for k in range(40)]
    docs = [
        {
            "name": ["every", f"n{i % 7}"],
            "text": ["shared", *rng.choices(words, k=rng.randint(0, 12))],
        }
        for i in range(300)
    ]
    index = _index(docs)
    for _ in range(20):
        terms = rng.sample([*words, "every", "shared", "n3", "absent"], 6)
        query = {t: rng.choice([1.0, 0.8, 0.35, 2.0]) for t in terms}
        covering = {t: rng.choice([1.0, 0.8]) for t in terms if rng.random() < 0.7}
        got = index.score(query, covering)
        want = _one_bincount(index, query, covering)
        for g, w in zip(got, want, strict=True):
            assert g.tobytes() == w.tobytes()


def test_field_scorer_tables_documents_as_their_frequencies_say() -> None:
    """A table of field-ordered documents holds each document's frequencies by term, in
    document order, and equal tuples of documents share one table."""
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(30)]
    scorer = FieldScorer(FIELDS, {"name": 1.5, "text": 4.0})
    for _ in range(200):
        docs = tuple(
            tuple(tuple(rng.choice(vocab) for _ in range(rng.randint(0, 9))) for _ in FIELDS)
            for _ in range(rng.randint(1, 6))
        )
        expected: dict[str, list[tuple[int, float]]] = {}
        for k, doc in enumerate(docs):
            for term, f in scorer.frequencies(doc).items():
                expected.setdefault(term, []).append((k, f))
        table = scorer.table(docs)
        assert table == expected
        assert scorer.table((*docs,)) is table  # an equal tuple, not the same one


def _postings(index: BM25FIndex) -> dict[str, tuple[bytes, bytes, bytes, float]]:
    out = {}
    for term in index.words():
        i = index.vocab[term]
        postings = index.postings(term)
        out[term] = (*(a.tobytes() for a in postings), float(index.idf[i]))
    return out


@pytest.mark.parametrize(("seed", "block_pairs"), [(1, 4096), (2, 4096), (3, 5), (4, 40)])
def test_an_index_with_merged_rows_has_the_postings_of_one_built_from_nothing(
    seed: int, block_pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write derives the index from the previous one (the changed documents' pairs
    spliced into the blocks of their terms, bm25_postings.Pairs.merged); its postings, IDF and
    averages are those of an index built from nothing, to the bit, through updates, creations
    and deletions, new terms and terms no document holds any more, and a write too large to
    merge; small blocks (`block_pairs`) put a write's terms in many of them. The previous
    index, whose untouched blocks the derived one shares, keeps its postings."""
    monkeypatch.setattr(bm25_postings, "BLOCK_PAIRS", block_pairs)
    rng = random.Random(seed)
    words = [f"w{k}" for k in range(60)]

    def doc(tag: str) -> list[tuple[str, tuple[str, ...]]]:
        text = tuple(rng.choices(words, k=rng.randint(0, 15))) + (tag,) * rng.randint(0, 2)
        return [("name", (tag,)), ("text", text), ("text", tuple(rng.sample(words, 3)))]

    docs = [doc(f"n{i}") for i in range(200)]
    index = BM25FIndex(docs, FIELDS, spelling=False)
    shared = 0  # writes whose index shares blocks with the previous one
    for step in range(25):
        kept = list(range(len(docs)))
        kind = rng.choice(["update", "update", "create", "delete", "many", "several"])
        at = rng.randrange(len(docs))
        if kind == "update":
            docs[at] = doc(f"new{step}")
            kept[at] = -1
        elif kind == "create":
            docs.insert(at, doc(f"made{step}"))
            kept.insert(at, -1)
        elif kind == "delete":
            del docs[at], kept[at]
        elif kind == "several":  # a few updates, a creation and a deletion at once
            for k in rng.sample(range(len(docs)), 3):
                docs[k], kept[k] = doc(f"s{step}_{k}"), -1
            docs.insert(at, doc(f"made{step}"))
            kept.insert(at, -1)
            del docs[-1], kept[-1]
        else:  # over MERGE_SHARE of the rows: built from nothing
            for k in rng.sample(range(len(docs)), len(docs) // 3):
                docs[k], kept[k] = doc(f"m{step}_{k}"), -1
        held_before = _postings(index)
        derived = BM25FIndex(
            docs, FIELDS, spelling=False, parts=index.parts, previous=index, kept=kept
        )
        fresh = BM25FIndex(docs, FIELDS, spelling=False)
        assert _postings(derived) == _postings(fresh)
        assert _postings(index) == held_before
        before, after = index._kept_pairs.saturated, derived._kept_pairs.saturated
        shared += any(a is b for a, b in zip(before, after, strict=False))
        assert derived.average_length == fresh.average_length
        # The layout copied by runs, the length totals and component uses carried: as counted.
        assert [derived.document(i) for i in range(len(docs))] == [list(d) for d in docs]
        assert derived._totals.tobytes() == fresh._totals.tobytes()
        used = np.bincount(derived._doc_comps, minlength=len(derived.parts.keep))
        assert derived._uses.tolist() == used.tolist()
        assert derived.parts.used == np.count_nonzero(used)
        index = derived
    assert shared >= (8 if block_pairs < 100 else 0)


@pytest.mark.parametrize("block_pairs", [3, 7, 4096])
def test_pairs_before_a_document_are_counted_over_every_block_of_the_term(
    block_pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pairs._before (where a write's pairs go and where its gone ones are) searches only
    the block a document falls in (a few documents each by a bisection over the blocks,
    more through the list of them): the counts a search in every block of the term gives,
    for documents before, between, at and after the term's, with either side."""
    monkeypatch.setattr(bm25_postings, "BLOCK_PAIRS", block_pairs)
    rng = random.Random(block_pairs)
    words = [f"w{k}" for k in range(8)]
    docs = [[("text", tuple(rng.choices(words, k=rng.randint(1, 6))))] for _ in range(120)]
    pairs = BM25FIndex(docs, FIELDS, spelling=False)._kept_pairs
    spanning = 0
    for term in range(len(pairs.start) - 1):
        pieces = pairs.pieces(term)
        spanning += len(pieces) > 1
        for _ in range(20):
            many = rng.choice([rng.randint(0, 9), rng.randint(10, 40)])  # both ways
            doc = np.sort(np.array(rng.choices(range(-2, 125), k=many)))
            for right in (False, True):
                side = "right" if right else "left"
                each = [
                    np.searchsorted(pairs.doc[k][lo:hi], doc, side=side) for k, lo, hi in pieces
                ]
                expected = np.sum(each, axis=0) if each else np.zeros(len(doc))
                assert pairs._before(term, doc, right).tolist() == np.asarray(expected).tolist()
    assert spanning >= (1 if block_pairs < 100 else 0)


def test_a_write_that_replaces_every_document_builds_the_rows_from_nothing() -> None:
    # No document kept (here a long one replaced by a short one): nothing to merge into.
    long = [[("name", tuple(f"w{i}" for i in range(100)))]]
    short = [[("name", ("x", "y"))]]
    index = BM25FIndex(long, FIELDS, spelling=False)
    derived = BM25FIndex(
        short, FIELDS, spelling=False, parts=index.parts, previous=index, kept=[-1]
    )
    assert _postings(derived) == _postings(BM25FIndex(short, FIELDS, spelling=False))


@pytest.mark.parametrize("seed", [1, 2])
def test_averages_are_rounded_to_a_fixed_relative_step(seed: int) -> None:
    """The length norm's averages keep AVERAGE_BITS significant bits: within half a step of
    the exact mean, never below 1, unchanged by a small move of the mean, and ordered as the
    means are (a write recomputes every pair only when its catalog's rounded average moves)."""
    rng = random.Random(seed)
    means = sorted([rng.uniform(0.0, 1e4) for _ in range(2_000)] + [0.0, 1.0, 2.0, 3.0, 64.5])
    rounded = [rounded_average(m) for m in means]
    assert rounded == sorted(rounded)
    for mean, value in zip(means, rounded, strict=True):
        assert value >= 1.0
        fraction, _ = math.frexp(value)
        assert (fraction * 2**AVERAGE_BITS).is_integer()
        if mean >= 1.0:
            assert abs(value - mean) <= mean / 2**AVERAGE_BITS
    assert rounded_average(1_000.0) == rounded_average(1_000.0 + 1e-5) == 1_000.0


def _spelling(index: BM25FIndex) -> dict[str, set[str]]:
    return {variant: set(words) for variant, words in index._deletes.items()}


def _word(step: int) -> str:
    """An alphabetic word per step (the spelling table holds only such words)."""
    return "written" + "".join("abcdefghij"[int(d)] for d in str(step))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_derived_index_spells_as_one_built_from_nothing_and_leaves_the_previous_alone(
    seed: int,
) -> None:
    """Derived indexes share the previous one's table of terms and add the terms that came
    (bm25.BM25FIndex._number_terms): each has the terms, IDF, spelling table and corrections
    of an index built from nothing, through writes that add words, remove them and bring
    them back, and the indexes before it answer as they did (a later word is unknown there)."""
    rng = random.Random(seed)
    words = [f"{stem}{tail}" for stem in ("restart", "compress", "archive") for tail in "abcd"]
    extras: list[list[str]] = [[] for _ in range(40)]
    texts = [rng.choices(words, k=rng.randint(1, 6)) for _ in range(40)]

    def doc(i: int) -> list[tuple[str, tuple[str, ...]]]:
        return [("name", (_word(1000 + i),)), ("text", (*texts[i], *extras[i]))]

    docs = [doc(i) for i in range(40)]
    index = BM25FIndex(docs, FIELDS)
    history: list[tuple[BM25FIndex, dict[str, float]]] = []
    kinds = ["add", "add", "add", "text", "drop", "back", "delete"]
    shared = 0
    for step in range(40):
        kept = list(range(len(docs)))
        at = rng.randrange(len(docs))
        kind = rng.choice(kinds)
        if kind == "delete":
            del docs[at], kept[at], extras[at], texts[at]
        else:
            if kind == "text":
                texts[at] = rng.choices(words, k=rng.randint(1, 6))
            elif kind == "add":
                extras[at].append(_word(step))
            elif kind == "drop":
                extras[at] = []
            elif kind == "back" and step:
                extras[at].append(_word(rng.randrange(step)))
            docs[at], kept[at] = doc(at), -1
        derived = BM25FIndex(docs, FIELDS, parts=index.parts, previous=index, kept=kept)
        fresh = BM25FIndex(docs, FIELDS)
        shared += derived.vocab is index.vocab
        idf = {t: fresh.idf_of(t) for t in fresh.words()}
        assert {t: derived.idf_of(t) for t in derived.words()} == idf
        assert _spelling(derived) == _spelling(fresh)
        for typo in ("writtenb", "writtenbj", "restarte", "compresa", "writenbaaa"):
            assert derived.correction(typo) == fresh.correction(typo)
        history.append((derived, idf))
        index = derived
    assert shared == 40  # every derived index shares the previous one's table
    every = list(map(_word, range(40)))
    for old, idf in history:
        assert {t: old.idf_of(t) for t in old.words()} == idf
        assert [t for t in every if t in old] == [t for t in every if t in idf]
        assert [old.idf_of(t) for t in every] == [idf.get(t, old.max_idf) for t in every]


def test_a_word_longer_than_every_term_by_two_is_not_corrected_and_by_one_still_is() -> None:
    docs = [[("name", ("restart",)), ("text", ("configuration",))]]
    index = BM25FIndex(docs, FIELDS)
    assert index.correction("configurationx") == "configuration"  # the longest + 1 letter
    assert index.correction("configurationxy") is None
    assert index.correction("a" * 4000) is None  # a hostile word: no 4,000 deletions made
    # A write that brings a longer term raises the bound; one that takes it away keeps it.
    longer = [*docs, [("name", ("deploy",)), ("text", ("configurationmanagement",))]]
    derived = BM25FIndex(longer, FIELDS, parts=index.parts, previous=index, kept=[0, -1])
    assert derived.correction("configurationmanagemnt") == "configurationmanagement"
    assert derived.correction("configurationmanagementt") == "configurationmanagement"
    back = BM25FIndex(docs, FIELDS, parts=index.parts, previous=derived, kept=[0])
    assert back.correction("configurationx") == "configuration"
    assert back.correction("configurationmanagementt") is None
