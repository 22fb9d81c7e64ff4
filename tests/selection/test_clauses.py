"""A description's clauses (clauses.py) and which tools get them as texts (semantic.tool_texts)."""

from __future__ import annotations

from builders import make_tool
from toolcatalog.selection.clauses import CLAUSE_KIND, clauses
from toolcatalog.selection.semantic import tool_texts
from toolcatalog.selection.text_vectors import NAME_KIND


def test_a_description_is_cut_at_sentences_commas_and_conjunctions() -> None:
    text = (
        "Stay informed with the latest financial updates, real-time insights, and analysis "
        "on a wide range of options. Track cryptocurrencies & compare stock prices"
    )
    assert clauses(text) == [
        "Stay informed with the latest financial updates",
        "and analysis on a wide range of options",
        "compare stock prices",
    ]  # "real-time insights" and "Track cryptocurrencies": too short to stand alone


def test_one_clause_is_no_clause() -> None:
    assert clauses("Tool for searching academic papers.") == []
    assert clauses("Search papers, fast") == []  # the second part is too short
    assert clauses("") == []


TRIP = "Book discounted hotels and flights. Plan a trip with local guides."


def test_only_a_tool_without_examples_has_its_clauses_as_texts() -> None:
    terse = tool_texts(make_tool("trip_tool", description=TRIP, examples=[]))
    assert [text for kind, text in terse if kind == CLAUSE_KIND] == [
        "Book discounted hotels",
        "Plan a trip with local guides",
    ]
    assert any(kind == NAME_KIND for kind, _text in terse)
    with_examples = tool_texts(
        make_tool("trip_tool", description=TRIP, examples=["find me a hotel in lisbon"])
    )
    assert all(kind not in (CLAUSE_KIND, NAME_KIND) for kind, _text in with_examples)
