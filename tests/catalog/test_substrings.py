"""substrings.TextColumn: the tools whose lowercased text holds a part, found by scans of one
joined string, are the ones a walk of every text finds, for any texts and parts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.catalog.substrings import TextColumn

# No NUL: PostgreSQL's text cannot hold it, so no stored text does.
TEXTS = st.lists(st.text(st.characters(exclude_characters="\x00"), max_size=12), max_size=12)


@given(TEXTS, st.text(max_size=4))
def test_a_part_is_found_in_the_texts_a_walk_finds_it_in(texts: list[str], part: str) -> None:
    needle = part.lower()
    column = TextColumn(texts)
    assert column.containing(needle) == [i for i, t in enumerate(texts) if needle in t.lower()]


@given(TEXTS)
def test_a_part_of_a_text_finds_that_text(texts: list[str]) -> None:
    column = TextColumn(texts)
    for i, text in enumerate(texts):
        low = text.lower()
        for cut in range(len(low)):
            assert i in column.containing(low[cut : cut + 3])


def test_a_part_spanning_two_texts_finds_neither() -> None:
    column = TextColumn(["disk", "usage"])
    assert column.containing("k\x00u") == []
    assert column.containing("ku") == []
    assert column.containing("") == [0, 1]
    assert TextColumn(["İ"]).containing("i̇") == [0]  # lowercased apart: 2 characters
