"""term_codes.TermCodes: searches of single lexemes (joined by AND or OR) and phrases answered
over every tool's codes with numpy match, rank and order as the general walk of the query
(pinned to PostgreSQL in test_search_index.py), also with tools changed, removed or added
since the codes were made."""

from __future__ import annotations

import random

import numpy as np
import pytest

from toolcatalog.catalog import term_codes
from toolcatalog.catalog.lexicon import LEXICON, Terms
from toolcatalog.catalog.search_index import (
    Postings,
    _matches,
    _positions,
    _rank,
    search,
)
from toolcatalog.catalog.term_codes import Codes, TermCodes
from toolcatalog.catalog.text_query import parse_query, query_lexemes

VOCABULARY = ["disk", "usag", "tool", "generat", "log", "rotat", None]
WORDS = ["disk", "usage", "tool", "generated", "log", "rotate", "absent"]
QUERIES = [
    *WORDS,
    *(f"{a} {b}" for a in WORDS for b in WORDS),
    "disk tool log rotate",
    *(f"{a} or {b}" for a in WORDS for b in WORDS),
    "disk or tool or log",
    *(f'"{a} {b}"' for a in WORDS for b in WORDS),
    '"disk the tool"',  # a stopword's hole: the next lexeme two positions on
    '"disk tool log"',
    '"tool tool tool"',
]


def _random_terms(rng: random.Random, n: int) -> dict[str, Terms]:
    """Few lexemes, repeated, with stopword holes: ties by the hundred, and arrangements that
    repeat (grouped by their hash) beside ones that do not."""
    terms_of: dict[str, tuple[str | None, ...]] = {
        f"tool_{i:04d}": tuple(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 40)))
        for i in range(n)
    }
    template = tuple(rng.choice(VOCABULARY) for _ in range(30))
    for i in range(n // 3):
        terms_of[f"tmpl_{i:04d}"] = template  # one arrangement shared by many tools
    terms_of["tool_long"] = ("disk",) * 16_390 + ("tool",)  # positions capped at 16,383
    # Several occurrences capped to the same position (a distance of 0).
    terms_of["tool_long_2"] = ("log",) * 16_380 + ("tool", "disk", "usag", "tool", "disk")
    # A phrase does not run from one tool's end into the next tool's start.
    terms_of["edge_a"] = ("tool", "log", "disk")
    terms_of["edge_b"] = ("tool", "usag", "log")
    return {name: LEXICON.encode(terms) for name, terms in terms_of.items()}


def _walked(query: str, terms_of: dict[str, Terms]) -> list[tuple[float, str]]:
    node = parse_query(query)
    assert node is not None
    items = query_lexemes(node)
    found = []
    for name, terms in terms_of.items():
        pos = _positions(terms, items)
        if _matches(node, pos):
            found.append((_rank(node, items, pos), name))
    found.sort(reverse=True)
    return found


def test_word_queries_over_codes_rank_as_the_general_walk() -> None:
    terms_of = _random_terms(random.Random(2017), 1200)
    every = tuple(sorted(terms_of))
    codes = Codes(TermCodes.of(every, terms_of), frozenset())
    postings = Postings.of(terms_of.items())
    for query in QUERIES:
        walked = _walked(query, terms_of)
        assert list(search(query, terms_of, postings, every, lambda: codes)) == walked, query
        assert list(search(query, terms_of, None, every, lambda: codes)) == walked, query


def test_blocks_of_a_few_tools_answer_as_the_whole_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A search goes through the codes a block of whole tools at a time: blocks of ~512
    # positions here (the long tools each a block alone), so phrases, arrangements and
    # counts meet block edges and arrangements are grouped across blocks.
    monkeypatch.setattr(term_codes, "_PART", 512)
    terms_of = _random_terms(random.Random(2019), 600)
    terms_of["empty_first"] = ""  # a tool of no positions (sorts before the others)
    every = tuple(sorted(terms_of))
    codes = Codes(TermCodes.of(every, terms_of), frozenset())
    assert len(codes.codes._bounds) > 30
    for query in QUERIES:
        walked = _walked(query, terms_of)
        assert list(search(query, terms_of, None, every, lambda: codes)) == walked, query


def test_tools_changed_since_the_codes_were_made_are_ranked_from_their_terms() -> None:
    rng = random.Random(1717)
    before = _random_terms(rng, 800)
    codes = TermCodes.of(tuple(sorted(before)), before)
    now = dict(before)
    names = sorted(before)
    touched = rng.sample(names, 60)
    for name in touched[:30]:
        now[name] = LEXICON.encode(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 40)))
    for name in touched[30:50]:
        del now[name]
    added = {
        f"new_{i}": LEXICON.encode(rng.choice(VOCABULARY) for _ in range(12)) for i in range(10)
    }
    now |= added
    stale = Codes(codes, frozenset([*touched[:50], *added]))
    every = tuple(sorted(now))
    postings = Postings.of(now.items())
    for query in QUERIES:
        walked = _walked(query, now)
        assert list(search(query, now, postings, every, lambda: stale)) == walked, query


def test_codes_are_asked_for_only_when_a_query_of_their_shapes_is_broad() -> None:
    terms_of = _random_terms(random.Random(7), 300)
    every = tuple(sorted(terms_of))
    asked: list[str] = []
    codes = Codes(TermCodes.of(every, terms_of), frozenset())

    def give() -> Codes:
        asked.append("codes")
        return codes

    postings = Postings.of(terms_of.items())
    search("disk -log", terms_of, postings, every, give)  # an exclusion: the per-tool path
    search('"disk tool" or log', terms_of, postings, every, give)  # a phrase within OR
    search("absent", terms_of, postings, every, give)  # no candidates
    search("absent or disk_x", terms_of, postings, every, give)
    assert asked == []
    search("disk tool", terms_of, postings, every, give)
    search("disk or log", terms_of, postings, every, give)
    search('"disk tool"', terms_of, postings, every, give)
    assert asked == ["codes"] * 3


def test_arrangements_whose_hashes_collide_are_still_ranked_each_as_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every arrangement hashed alike: each tool is compared with its group's first, element by
    # element, and the ones that differ are ranked on their own.
    monkeypatch.setattr(term_codes, "_mixed", np.zeros_like)
    terms_of = _random_terms(random.Random(99), 400)
    every = tuple(sorted(terms_of))
    codes = Codes(TermCodes.of(every, terms_of), frozenset())
    for query in ["disk tool", "generated log rotate", "usage tool", '"disk the tool log"']:
        assert list(search(query, terms_of, None, every, lambda: codes)) == _walked(query, terms_of)


def test_a_lexeme_past_the_65535_most_frequent_is_left_to_the_per_tool_path() -> None:
    # Codes are uint16 by frequency: the rarest lexemes share RARE, so the codes cannot tell
    # them apart and a query of one is answered from the tools' own terms.
    many: dict[str, Terms] = {
        f"tool_{i}": LEXICON.encode(("disk", "tool", *(f"w{i}x{j}" for j in range(700))))
        for i in range(100)
    }
    many["tool_5"] += LEXICON.encode(("disk", "tool"))
    every = tuple(sorted(many))
    codes = TermCodes.of(every, many)
    assert codes.ranked_all_of(["w99x3"]) is None  # the last of 70,000 lexemes seen once
    assert codes.ranked_all_of(["disk", "tool"]) is not None
    kept = Codes(codes, frozenset())
    for query in ["w99x3", "disk w99x3", "disk tool", "tool", "disk or w99x3", '"w99x3 disk"']:
        assert list(search(query, many, None, every, lambda: kept)) == _walked(query, many), query
