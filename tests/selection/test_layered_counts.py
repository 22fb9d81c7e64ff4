"""LayeredCounts (the speller's words and the semantic index's chunks, carried per write):
each generation derived by random changes counts what a count from nothing counts, the
earlier generations keep theirs, and a write shares the base instead of copying it."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from toolcatalog.selection import layered_counts
from toolcatalog.selection.hosts import changed_chunks, text_chunks
from toolcatalog.selection.layered_counts import LayeredCounts
from toolcatalog.selection.spelling import Speller

WORDS = [f"w{n}" for n in range(40)]


def _texts(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 6))) for _ in range(count)]


def _counted(texts: list[str]) -> Counter[str]:
    return Counter(word for text in texts for word in text.split())


@pytest.mark.parametrize(("seed", "fold_min"), [(1, 3), (2, 3), (3, 40), (4, 4_096)])
def test_counts_derived_over_generations_are_a_count_from_nothing(
    seed: int, fold_min: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layered_counts, "FOLD_MIN", fold_min)
    monkeypatch.setattr(layered_counts, "FOLD_SHARE", 4)
    rng = random.Random(seed)
    texts = _texts(rng, 30)
    generations = [(LayeredCounts(_counted(texts)), list(texts))]
    for _ in range(25):
        counts, texts = generations[-1]
        texts = list(texts)
        went = [texts.pop(rng.randrange(len(texts))) for _ in range(rng.randint(0, 3))]
        came = _texts(rng, rng.randint(0, 3))
        texts += came
        derived = counts.derived()
        for text in went:
            for word in text.split():
                derived.add(word, -1)
        for text in came:
            for word in text.split():
                derived.add(word, 1)
        generations.append((derived, texts))
    for counts, texts in generations:  # the earlier ones unchanged by the later ones
        fresh = _counted(texts)
        assert dict(counts.items()) == dict(fresh)
        assert len(counts) == len(fresh)
        for word in [*WORDS, "absent"]:
            assert (word in counts) == (word in fresh)
        assert counts.get("absent") is None
        with pytest.raises(KeyError):
            counts["absent"]


def test_a_write_shares_the_base_until_its_changes_pass_the_fold_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(layered_counts, "FOLD_MIN", 2)
    monkeypatch.setattr(layered_counts, "FOLD_SHARE", 8)
    base = {f"k{n}": 1 for n in range(16)}  # folds past 2 + 16 // 8 = 4 changed keys
    counts = LayeredCounts(base)
    for n in range(5):
        counts = counts.derived()
        assert counts._base is base  # shared, not copied
        counts.add(f"new{n}", 1)
    folded = counts.derived()
    assert folded._base is not base
    assert folded._changes == {}
    assert dict(folded.items()) == dict(counts.items()) == base | {f"new{n}": 1 for n in range(5)}
    assert len(base) == 16  # the shared base is never written


def test_a_writes_speller_and_chunks_count_what_their_texts_count() -> None:
    before = ["Restart nginx on web-01.", "Check kafka-broker-2 disk usage", "df -h"]
    after = [before[0], before[2], "Rotate kafka-broker-3 logs on web-01."]
    speller = Speller(before).changed([before[1]], [after[2]])
    fresh = Speller(after)
    assert speller.counts == fresh.counts
    assert speller.identifiers == fresh.identifiers
    chunks = changed_chunks(LayeredCounts(text_chunks(before)), [before[1]], [after[2]])
    assert dict(chunks.items()) == dict(text_chunks(after))
    assert "kafka-broker-2" not in chunks
    assert "kafka-broker-3" in chunks
