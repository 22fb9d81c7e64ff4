"""BERT's uncased WordPiece tokeniser, as all-MiniLM-L6-v2 reads text: clean, lower-case,
strip accents, split on white space and punctuation, then the vocabulary's word pieces."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path


def _is_punctuation(ch: str) -> bool:
    # BERT treats every non-letter/number ASCII character as punctuation ($, ^, `...), and
    # any Unicode "P*" character.
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


# ASCII controls BERT's cleaning drops (category Cc but tab, newline, return; 0x0b and 0x0c
# are dropped, not read as spaces), and the words of a cleaned, lower-cased ASCII text.
_ASCII_CONTROLS = {cp: None for cp in [*range(32), 127] if chr(cp) not in "\t\n\r"}
_ASCII_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
_PIECES_KEPT = 200_000


class WordPieceTokenizer:
    """BERT's uncased tokeniser: clean, split CJK characters, lower-case and strip accents,
    split on white space and punctuation, then greedy longest-match-first word pieces
    (continuations prefixed `##`); a word with no full cover, or over 100 characters, is
    [UNK]."""

    def __init__(self, vocab_file: Path, max_length: int = 256) -> None:
        words = vocab_file.read_text(encoding="utf-8").splitlines()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.max_length = max_length
        self.cls, self.sep = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self.unk, self.pad = self.vocab["[UNK]"], self.vocab["[PAD]"]
        # Each word's pieces, once: a catalog's texts repeat their words (the starter
        # catalog's ~1,900 texts hold ~4,000 distinct words). Emptied when full; the
        # lookups and stores are single dict operations, safe from several threads.
        self._pieces: dict[str, tuple[int, ...]] = {}

    def basic(self, text: str) -> list[str]:
        """Cleaned, lower-cased, accent-stripped words and punctuation marks of `text`."""
        if text.isascii():
            return self._basic_ascii(text)
        return self._basic_any(text)

    @staticmethod
    def _basic_any(text: str) -> list[str]:
        out: list[str] = []
        for ch in text:
            cp = ord(ch)
            if (
                cp == 0
                or cp == 0xFFFD
                or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r")
            ):
                continue
            if _is_cjk(cp):
                out.append(f" {ch} ")
            elif ch.isspace():
                out.append(" ")
            else:
                out.append(ch)
        words: list[str] = []
        for word in "".join(out).lower().split():
            word = "".join(
                c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn"
            )
            current: list[str] = []
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        words.append("".join(current))
                        current = []
                    words.append(ch)
                else:
                    current.append(ch)
            if current:
                words.append("".join(current))
        return words

    @staticmethod
    def _basic_ascii(text: str) -> list[str]:
        """`basic` for an ASCII text (most requests and tool texts), with the same words:
        controls but tab, newline and return dropped, then every run of letters and digits
        and every other printable character (all ASCII punctuation to BERT) is a word. Costs
        a tenth of the character loop."""
        return _ASCII_WORD.findall(text.translate(_ASCII_CONTROLS).lower())

    def _word_ids(self, word: str) -> tuple[int, ...]:
        found = self._pieces.get(word)
        if found is None:
            if len(self._pieces) >= _PIECES_KEPT:
                self._pieces = {}
            found = self._pieces[word] = tuple(self.wordpieces(word))
        return found

    def wordpieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk]
            pieces.append(found)
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        """[CLS] pieces [SEP], truncated to max_length."""
        ids: list[int] = []
        for word in self.basic(text):
            ids += self._word_ids(word)
        return [self.cls, *ids[: self.max_length - 2], self.sep]
