"""Symmetric-delete spelling correction (SymSpell) over an index's terms: each word and each of
its one-letter deletions meet, covering insertions, deletions, substitutions and transpositions.
BM25FIndex.correction looks a request's term up in the table made here.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

MIN_CORRECTED = 6


def spelled(word: str) -> bool:
    return len(word) >= MIN_CORRECTED - 1 and word.isalpha()


def deletes_of(terms: Iterable[str]) -> dict[str, list[str]]:
    deletes: dict[str, list[str]] = {}
    for word in terms:
        if spelled(word):
            deletes.setdefault(word, []).append(word)
            for variant in deletions(word):
                deletes.setdefault(variant, []).append(word)
    return deletes


def changed_deletes(
    deletes: dict[str, list[str]], came: Iterable[str], gone: Iterable[str]
) -> dict[str, list[str]]:
    """`deletes` (a table of some words) made the table of those words with the words that
    `came` and without those `gone`: only they are touched (lists are copied before they
    change, as the previous index may be answering from them). The same words under each
    key as `deletes_of` the words after; `correction` does not depend on their order."""
    gone = [w for w in gone if spelled(w)]
    came = [w for w in came if spelled(w)]
    if not gone and not came:
        return deletes
    out = dict(deletes)
    for word in gone:
        for variant in (word, *deletions(word)):
            left = [w for w in out.get(variant, ()) if w != word]
            if left:
                out[variant] = left
            else:
                out.pop(variant, None)
    for word in came:
        for variant in (word, *deletions(word)):
            out[variant] = [*out.get(variant, ()), word]
    return out


def deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def neighbours(term: str, deletes: Mapping[str, list[str]], vocab: Container[str]) -> set[str]:
    """The words of `vocab` one edit from `term` (itself too when in `vocab`), by the table
    `deletes` made of them."""
    found: set[str] = set(deletes.get(term, ()))
    if term in vocab:
        found.add(term)
    for variant in deletions(term):
        if variant in vocab:
            found.add(variant)
        found.update(deletes.get(variant, ()))
    return found
