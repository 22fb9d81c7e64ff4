"""BERT's WordPiece tokeniser (encoders/wordpiece.py), on small vocabularies of its own."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from toolcatalog.selection.encoders.wordpiece import WordPieceTokenizer


def test_wordpiece_splits_punctuation_accents_and_unknown_words(tmp_path: Path) -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "'", "t"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tok = WordPieceTokenizer(tmp_path / "vocab.txt")
    assert tok.basic("Héllo, UNaffable don't") == ["hello", ",", "unaffable", "don", "'", "t"]
    ids = tok.encode("Hello, unaffable zzz")
    assert [vocab[i] for i in ids] == [
        "[CLS]", "hello", ",", "un", "##aff", "##able", "[UNK]", "[SEP]",
    ]  # fmt: skip


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_shortcut_splits_as_the_character_loop(text: str) -> None:
    assert WordPieceTokenizer._basic_ascii(text) == WordPieceTokenizer._basic_any(text)


def test_a_cached_word_gives_the_same_pieces_again(tmp_path: Path) -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "x"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tok = WordPieceTokenizer(tmp_path / "vocab.txt")
    first = tok.encode("unaffable x unaffable")
    assert first == tok.encode("unaffable x unaffable") == [2, 4, 5, 6, 7, 4, 5, 6, 3]
