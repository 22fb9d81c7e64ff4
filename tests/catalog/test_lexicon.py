"""lexicon.Lexicon: a tool's search lexemes held as one code point each, the same lexemes back
whatever the order they came in, across threads, past the surrogates and the limit, and from
a saved version made under another process's codes."""

from __future__ import annotations

import dataclasses
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolcatalog.catalog.entries import entry_of
from toolcatalog.catalog.lexicon import DEAD_MAX, HOLE, LEXICON, SHARED, Lexicon
from toolcatalog.catalog.saved import SavedVersion
from toolcatalog.catalog.text_query import search_text, tokens
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.store.tools import ToolRecord

ROOT = Path(__file__).resolve().parents[2]
_AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_terms_give_back_their_lexemes_and_holes_in_order() -> None:
    lexicon = Lexicon()
    lexemes = ("disk", None, "usag", "disk", None, "5xx")
    terms = lexicon.encode(lexemes)
    assert len(terms) == len(lexemes)
    assert terms[1] == HOLE
    assert terms.count(lexicon.char("disk") or "") == 2
    assert lexicon.decode(terms) == lexemes
    assert lexicon.encode(iter(lexemes)) == terms  # codes never change
    assert lexicon.char("absent") is None
    assert len(lexicon) == 3


def test_codes_skip_the_surrogates_so_terms_encode_as_any_text() -> None:
    lexicon = Lexicon()
    words = [f"w{i}" for i in range(0xD800 + 40)]
    terms = lexicon.encode(words)
    assert lexicon.decode(terms) == tuple(words)
    assert not any(0xD800 <= ord(c) < 0xE000 for c in terms)
    assert terms.encode("utf-8").decode("utf-8") == terms


def test_lexemes_past_the_limit_are_found_by_no_query() -> None:
    lexicon = Lexicon(limit=10)
    words = [f"w{i}" for i in range(20)]
    terms = lexicon.encode(words)
    assert lexicon.decode(terms)[:9] == tuple(words[:9])
    assert terms[9:] == chr(SHARED) * 11
    assert lexicon.char("w15") is None
    assert lexicon.lexeme(chr(SHARED)) is None


def test_threads_adding_the_same_new_lexemes_give_each_one_code() -> None:
    lexicon = Lexicon()
    words = [f"w{i % 500}" for i in range(4000)]
    made: list[str] = []
    start = threading.Barrier(4)

    def encode(shift: int) -> None:
        start.wait()
        made.append(lexicon.encode(words[shift:] + words[:shift]))

    threads = [threading.Thread(target=encode, args=(s * 37,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lexicon) == 500
    assert sorted(lexicon.decode(t) for t in made) == sorted(
        tuple(words[s * 37 :] + words[: s * 37]) for s in range(4)
    )


def test_another_lexicons_terms_are_translated_when_taken() -> None:
    theirs, ours = Lexicon(), Lexicon()
    ours.encode(("tool", "log"))
    terms = theirs.encode(("log", None, "rotat", "tool", "log"))
    moved = ours.adopt(theirs.lexemes())
    assert moved is not None
    assert ours.decode(terms.translate(moved)) == ("log", None, "rotat", "tool", "log")
    assert Lexicon().adopt(theirs.lexemes()) is None  # a fresh process keeps the codes


def _starter_entries(lexicon: Lexicon) -> tuple[list[Tool], list[tuple[str, str, CachedTool]]]:
    """A dozen starter tools and their saved entries, with terms made under `lexicon`."""
    tools = load_folder_snapshot(ROOT / "catalog", strict=False).tools[:12]
    saved = []
    for i, tool in enumerate(tools):
        record = ToolRecord(i + 1, tool.name, 1, f'"1-{i}"', tool.document(), _AT, _AT)
        terms = lexicon.encode(tokens(search_text(tool)))
        saved.append((tool.name, "stamp", dataclasses.replace(entry_of(record, tool), terms=terms)))
    return tools, saved


def test_a_saved_version_made_under_other_codes_loads_with_this_processs(
    tmp_path: Path,
) -> None:
    # Another process numbered lexemes in another order: its file's terms are made ours.
    theirs = Lexicon()
    theirs.encode([f"only-theirs-{i}" for i in range(300)])
    tools, saved = _starter_entries(theirs)
    for tool, (_n, _s, entry) in zip(tools, saved, strict=True):
        assert entry.terms != LEXICON.encode(tokens(search_text(tool)))
    assert SavedVersion(tmp_path, "db", theirs).store(saved)

    loaded = SavedVersion(tmp_path, "db").load()

    assert loaded is not None
    for tool in tools:
        terms = loaded[tool.name][1].terms
        assert terms == LEXICON.encode(tokens(search_text(tool)))
        assert LEXICON.decode(terms) == tokens(search_text(tool))


@pytest.mark.parametrize("dead", [5, 500])
def test_a_save_keeps_only_the_lexemes_its_entries_use(tmp_path: Path, dead: int) -> None:
    # Lexemes of tools since changed or removed stay in the process's lexicon, not in what it
    # saves: a restart's lexicon (adopted from the file) holds the catalog's lexemes only.
    # A few dead codes are left as holes (no code moves); many, and the save numbers again.
    ours = Lexicon()
    ours.encode([f"gone-{i}" for i in range(dead)])
    tools, saved = _starter_entries(ours)
    ours.encode(["gone-after"])
    assert SavedVersion(tmp_path, "db", ours).store(saved)

    restarted = Lexicon()
    loaded = SavedVersion(tmp_path, "db", restarted).load()

    assert loaded is not None
    used = {lexeme for tool in tools for lexeme in tokens(search_text(tool)) if lexeme is not None}
    assert len(restarted) == len(used)
    holes = dead <= DEAD_MAX * (len(used) + dead)
    for (name, _s, entry), tool in zip(saved, tools, strict=True):
        terms = loaded[name][1].terms
        assert restarted.decode(terms) == tokens(search_text(tool))
        assert (terms == entry.terms) is holes  # the same codes, or numbered again
        assert ours.decode(entry.terms) == tokens(search_text(tool))  # the saver's own
    # What the restart saves again has nothing to drop.
    kept, table = restarted.compacted([entry.terms for _s, entry in loaded.values()])
    assert table is None
    assert kept == restarted.lexemes()
    # New lexemes of the restart take codes past the file's, holes left alone.
    fresh = restarted.encode(["brand-new"])
    assert ord(fresh) == len(kept)


def test_a_thread_adding_lexemes_while_an_empty_lexicon_adopts_a_saved_one_keeps_both() -> None:
    # A load adopts a saved numbering while another thread encodes: the encoded lexemes keep
    # their codes and the saved terms read back their lexemes. (`adopt` replaced an empty
    # lexicon's tables while the encoder held the old ones: 55 rounds in 3,347 gave the new
    # lexemes codes the adopted table did not hold.) A switch of threads every microsecond
    # makes the interleaving likely; each round is checked, whichever thread went first.
    saved = Lexicon()
    kept = tuple(f"saved{i}" for i in range(50))
    saved_terms = saved.encode(kept)
    numbering = saved.lexemes()
    words = [f"new{i}" for i in range(20)]

    def encode(lexicon: Lexicon, start: threading.Barrier, made: list[str]) -> None:
        start.wait()
        made.append(lexicon.encode(words))

    def adopt(
        lexicon: Lexicon, start: threading.Barrier, moved: list[dict[int, int] | None]
    ) -> None:
        start.wait()
        moved.append(lexicon.adopt(numbering))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(500):
            lexicon, start = Lexicon(), threading.Barrier(2)
            made: list[str] = []
            moved: list[dict[int, int] | None] = []
            threads = [
                threading.Thread(target=encode, args=(lexicon, start, made)),
                threading.Thread(target=adopt, args=(lexicon, start, moved)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert lexicon.decode(made[0]) == tuple(words)
            table = moved[0]
            assert lexicon.decode(saved_terms.translate(table) if table else saved_terms) == kept
    finally:
        sys.setswitchinterval(interval)
