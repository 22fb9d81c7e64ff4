"""Everyday talk told by its words: a request that speaks of private life (data/private_life.txt:
family, pets, the body, moods) in a catalog far from everyday talk.

The nearest-neighbour tests (gate.everyday, Calibration.neighbours) read the request's meaning,
and figurative talk borrows a tool's word for it: "my brain needs a firewall against bad news"
lands beside ufw, "my toddler's tantrums need a kill switch" beside kill, among no generic
request. What gives such a line away is the rest of its words: operations requests do not talk
of a person's family, pets or moods. So in a catalog whose texts sit far from everyday talk
(Calibration.everyday_allowance > 0: a consumer catalog such as MetaTool's plugins answers
requests about a family dinner or a dog, and has 0), a request holding a word of private life
that no tool's text holds is everyday talk, unless it also names a machine, an address or a
file (a word with a digit, a path, a dotted or underscored name: "db4", "10.0.0.7",
"/var/log", "fs01.corp"), which only requests about systems do. A word joined to others by
hyphens is part of a name, not talk of private life: "the dog-food cluster", "restart the
pet-store pods", "the birthday-reminder service" (session 18 refused the first; session 19's
held-out set, bench/data/ops-terms-heldout.jsonl, measured the class).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from toolcatalog.selection.bm25 import BM25FIndex
from toolcatalog.selection.calibrate import Calibration, data_lines
from toolcatalog.selection.text import request_tokens

PRIVATE_LIFE = Path(__file__).parent / "data" / "private_life.txt"
_WORD = re.compile(r"[a-z]+")
# Words joined by hyphens (also the Unicode ones): "dog-food", "mother-ship" are a name, whose
# parts are not talk. The lookbehind starts a match only at a word's start: without it a long
# word is tried from each of its letters (a 4,000-letter word took 300 ms; now 0.08 ms).
_HYPHENS = "-\u2010\u2011"
_COMPOUND = re.compile(rf"(?<![a-z0-9])[a-z0-9]+(?:[{_HYPHENS}][a-z0-9]+)+")
# A machine, an address or a file: a word with a digit, a path, a dotted or underscored name.
# Searched for its presence only, so each is its shortest sign (a digit, a slash, a dot or an
# underscore inside a word): the whole words' pattern (\w*\d\w*, ...) was tried from each
# letter of a long word, 611 ms of CPU for a 4,000-character request.
_SYSTEM_NAME = re.compile(r"\d|[/\\]|\w[._]\w")


@cache
def private_life_words() -> frozenset[str]:
    """The shipped words of private life."""
    return frozenset(w for line in data_lines(PRIVATE_LIFE) for w in line.split())


def speaks_of_private_life(text: str, tools: BM25FIndex, calibration: Calibration | None) -> bool:
    """Whether `text` is everyday talk by its words (see the module's docstring); `tools` is
    the catalog's lexical index, whose documents say which words its tools hold."""
    if calibration is None or calibration.everyday_allowance <= 0:
        return False
    lowered = text.lower()
    life = private_life_words()
    spoken = _COMPOUND.sub(" ", lowered) if any(h in lowered for h in _HYPHENS) else lowered
    for word in set(_WORD.findall(spoken)) & life:
        if not any(tools.document_frequency(t) for t in request_tokens(word)):
            return _SYSTEM_NAME.search(lowered) is None
    return False
