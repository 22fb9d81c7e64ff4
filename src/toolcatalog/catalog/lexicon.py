"""Every search lexeme this process has met, numbered once, so that a tool's search lexemes in
order are held as one `str` of one code point a position (`CachedTool.terms`): ~2-4 bytes a
position, where a tuple of the lexemes took 8 bytes a position and a header (140 MiB at
100,000 generated tools, docs/performance.md "Session 16 (membase)"). `str.count` and
`str.find` keep the C scans that `tuple.count` and `tuple.index` gave the search.

Codes are handed out in the order lexemes come and never change for the process's life (so
entries made by any version, thread or write stay valid); code 0 is a stopword's hole (None
in `text_query.tokens`), and the surrogates' range is skipped, so that the terms encode as
UTF-32 (term_codes.py reads them that way) and pickle as any text. A saved catalog version
carries the lexemes its entries use (`compacted`) and a later process takes their codes back
with `adopt`.

The lexicon only grows, as `search_index.Postings` does: a lexeme that leaves the catalog
keeps its code (~70 bytes) for the process's life; a save keeps only the lexemes its entries
use (`compacted`), so a restart starts from the catalog's own. Past `limit` lexemes (every
code point: 1,112,064) a new lexeme gets the code `SHARED`, which no query lexeme maps to:
such a lexeme is not found by searches until a restart (logged once). At 100,000 generated
tools a process holds ~150,000."""

from __future__ import annotations

import logging
import sys
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["HOLE", "LEXICON", "SHARED", "Lexicon", "Terms"]

log = logging.getLogger(__name__)

# A tool's search lexemes in order, one code point a position (Lexicon.encode).
Terms = str

HOLE = "\x00"  # a stopword's position
_SURROGATES = range(0xD800, 0xE000)
_LAST = 0x10FFFF
# The code of lexemes past the limit: never found (`code` does not answer it).
SHARED = _LAST


class Lexicon:
    """lexeme <-> code, append-only. Reads take no lock (dict and list reads are atomic under
    the GIL); adding lexemes takes one, so two threads never give one lexeme two codes."""

    __slots__ = ("_codes", "_lexemes", "_limit", "_lock", "_warned")

    def __init__(self, limit: int = _LAST) -> None:
        self._codes: dict[str | None, int] = {None: 0}
        # By code; the surrogates' range holds None (no lexeme has those codes).
        self._lexemes: list[str | None] = [None]
        self._limit = min(limit, _LAST)
        self._lock = threading.Lock()
        self._warned = False

    def __len__(self) -> int:
        return len(self._codes) - 1

    def encode(self, lexemes: Iterable[str | None]) -> Terms:
        """`lexemes` (text_query.tokens: None for a stopword's hole) as one code point each."""
        lexemes = lexemes if isinstance(lexemes, Sequence) else tuple(lexemes)
        codes = self._codes
        try:
            found = array("I", map(codes.__getitem__, lexemes))
        except KeyError:
            self._add(lexemes)
            codes = self._codes  # `adopt` may have replaced the tables meanwhile
            found = array("I", (codes.get(lexeme, SHARED) for lexeme in lexemes))
        return found.tobytes().decode(_UTF32)

    def code(self, lexeme: str) -> int | None:
        """The code of `lexeme`, None when no terms made here hold it."""
        return self._codes.get(lexeme)

    def char(self, lexeme: str) -> str | None:
        """`lexeme` as it stands in terms, None when no terms made here hold it."""
        code = self._codes.get(lexeme)
        return None if code is None else chr(code)

    def lexeme(self, char: str) -> str | None:
        """The lexeme a code point of terms stands for (None: a hole, or past the limit)."""
        code = ord(char)
        lexemes = self._lexemes
        return lexemes[code] if code < len(lexemes) else None

    def decode(self, terms: Terms) -> tuple[str | None, ...]:
        """The lexemes of `terms`, as text_query.tokens made them."""
        return tuple(map(self.lexeme, terms))

    def lexemes(self) -> list[str | None]:
        """Every lexeme by code (None at 0 and in the surrogates' gap), as known now: what a
        saved version keeps to give its terms' codes back (`adopt`)."""
        return self._lexemes[:]

    def compacted(self, terms: Sequence[Terms]) -> tuple[list[str | None], dict[int, int] | None]:
        """What a save keeps: the lexemes that `terms` use (lexemes that left the catalog keep
        their codes in this process, not in what it saves, so a restart's lexicon holds only
        the catalog's). Returns the lexemes by code (as `lexemes()`) and None while at most
        DEAD_MAX of the codes are unused: those are left as holes and every code stays. Past
        it, the lexemes are numbered again without holes, and the table that gives `terms`
        their new codes (`str.translate`, ~40 us a generated tool) comes with them. One
        numpy pass over every position (a set of the terms' characters took ~6 s at 100,000
        tools of 150 positions; this ~0.15 s)."""
        known = self._lexemes[:]  # terms made before this call hold codes below its length
        used = np.zeros(len(known), dtype=bool)
        for found in code_parts(terms):
            used[found[found < len(known)]] = True
        used[0] = False  # a stopword's hole
        codes = [int(c) for c in np.flatnonzero(used) if known[c] is not None]
        live = sum(lexeme is not None for lexeme in known)
        if live - len(codes) <= DEAD_MAX * live:
            return [known[c] if used[c] else None for c in range(len(known))], None
        kept: list[str | None] = [None]
        table: dict[int, int] = {}
        for code in codes:
            if len(kept) == _SURROGATES.start:
                kept.extend([None] * len(_SURROGATES))
            table[code] = len(kept)
            kept.append(known[code])
        return kept, {old: new for old, new in table.items() if old != new} or None

    def adopt(self, lexemes: Sequence[str | None]) -> dict[int, int] | None:
        """Take the codes of `lexemes` (another lexicon's `lexemes()` or `compacted()`) into
        this one: None when each keeps its code here (always in a process that knew no
        lexeme: it takes them as they are, holes included), else the table that gives terms
        made under them this lexicon's codes (`str.translate`)."""
        with self._lock:
            if len(self._lexemes) == 1 and _numbering(lexemes, self._limit):
                self._codes = {None: 0} | {x: c for c, x in enumerate(lexemes) if x is not None}
                self._lexemes = list(lexemes)
                return None
        self._add(lexeme for lexeme in lexemes if lexeme is not None)
        codes = self._codes
        moved = {
            code: codes.get(lexeme, SHARED)
            for code, lexeme in enumerate(lexemes)
            if lexeme is not None and codes.get(lexeme, SHARED) != code
        }
        return moved or None

    def _add(self, lexemes: Iterable[str | None]) -> None:
        with self._lock:
            # Under the lock: `adopt` replaces the tables of an empty lexicon (under it too).
            codes, known = self._codes, self._lexemes
            for lexeme in lexemes:
                if lexeme in codes:
                    continue
                code = len(known)
                if code == _SURROGATES.start:
                    known.extend([None] * len(_SURROGATES))
                    code = len(known)
                if code >= self._limit:
                    if not self._warned:
                        self._warned = True
                        log.warning(
                            "more than %d distinct search lexemes: later new ones are not "
                            "searchable until a restart",
                            len(self),
                        )
                    return
                known.append(lexeme)
                codes[lexeme] = code


# Terms read as UTF-32 this many tools at a time (`code_parts`): the whole catalog's at once
# would be ~120 MB of temporaries at 100,000 tools.
TOOLS_PER_PART = 4096
# The share of a lexicon's codes a save may leave as holes before it numbers them again.
DEAD_MAX = 0.25


def code_parts(terms: Sequence[Terms]) -> Iterator[npt.NDArray[np.uint32]]:
    """The lexicon codes of `terms`, one after the other, an array a TOOLS_PER_PART of them
    (one C pass each: join, then encode)."""
    for at in range(0, len(terms), TOOLS_PER_PART):
        part = "".join(terms[at : at + TOOLS_PER_PART])
        yield np.frombuffer(part.encode("utf-32-le"), dtype="<u4")


def _numbering(lexemes: Sequence[str | None], limit: int) -> bool:
    """Whether `lexemes` by code can be a lexicon's as they are: the hole at 0, none in the
    surrogates' range, each once, within `limit`."""
    named = [x for x in lexemes if x is not None]
    return (
        bool(lexemes)
        and lexemes[0] is None
        and len(lexemes) <= limit
        and not any(lexemes[_SURROGATES.start : _SURROGATES.stop])
        and len(set(named)) == len(named)
    )


# array("I") holds native 4-byte codes.
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"

# The process's lexicon: every CachedTool's terms are codes of it.
LEXICON = Lexicon()
