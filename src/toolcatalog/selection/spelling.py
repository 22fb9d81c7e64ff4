"""A request's misspelt words put right before it is encoded: "memroy usage keeps climbing,
which proccess is it" is encoded as "memory ... process". The encoder cuts a word it does not
know into word pieces that mean little ("me ##m ##roy"), so a typo loses the word's meaning on
the semantic side (lexical retrieval corrects its own terms, see bm25.BM25FIndex.correction).

A word is corrected only when nothing knows it (neither the encoder's vocabulary of whole words
nor the catalog's texts), it has at least MIN_LENGTH letters, and exactly one edit (an
insertion, deletion, substitution or transposition) turns it into a word of the catalog's
texts; among several, the one the catalog uses most wins. So only the catalog's own words are
ever written in, and an ordinary English word the catalog happens not to use is left alone.
Measured on the starter catalog: held-out "memroy ... proccess" goes to ps (vmstat before).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cached_property

from toolcatalog.selection.layered_counts import LayeredCounts
from toolcatalog.selection.tokenizer import counted_matches

# At five letters one edit reaches too many unrelated words (symmetric_deletes.MIN_CORRECTED alike).
MIN_LENGTH = 6
# A word longer than this is checked against the catalog's longest word before its edits are
# made: one edit changes a length by one at most, and a 4,000-letter word's ~216,000 edits of
# 4,000 letters each (a hostile request) cost 3 s of CPU and ~1 GB while they lived.
LONG_WORD = 24
# Shorter words the encoder lacks are mostly abbreviations and units ("gw", "ms", "rf"),
# not names (see Speller.names).
MIN_NAME = 4
_WORD = re.compile(r"[A-Za-z]+")
# Text an unreadable request may hold: ASCII letters, spaces and sentence marks only. A digit,
# a symbol or a non-ASCII letter may be an identifier, a path, an error code or another
# language's word, none of which is judged here.
_PLAIN = re.compile(r"[A-Za-z\s.,;:!?'\"()-]+")


# An identifier's shape: a capital inside a word (NotReady, pwdLastSet) or capitals only
# (SIGTERM, SNMP).
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")


# Words run together in an identifier ("NullPointerException", "pwdLastSet"): the encoder cuts
# one it does not know into pieces that mean little ("null ##point ##ere ##x ##ception"); its
# words written apart say what it means. Split where two lower-case letters are followed by a
# capital and a lower-case letter: "iPhone", "vSphere", "GPOs" and "SIGTERM" stay whole.
_JOINED = re.compile(r"(?<=[a-z]{2})(?=[A-Z][a-z])")


def identifier_shaped(word: str) -> bool:
    """Whether `word` (letters only) is written as an identifier."""
    return word.isupper() or _INNER_CAPITAL.search(word) is not None


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# A word that is a known word with one of these endings is a form of it, not a typo
# ("stoves", "imparting": whole words the encoder's vocabulary lacks); those marked with a
# final e may have dropped it ("retriever": retrieve + r).
_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ness", "ment", "able")


def _edits(word: str) -> set[str]:
    """Every string one insertion, deletion, substitution or transposition from `word`
    (~54 x its length: looked up in a set, no index to keep)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | swaps | replaces | inserts


def _typo(word: str, candidate: str) -> bool:
    """Whether `word` reads as a typo of `candidate` rather than another word: typos keep the
    first letter ("deallocated" is not "reallocated"), and an edit at the very end is usually
    another form of the word, not a slip ("limiter", "limited"; "playbook", "playbooks")."""
    if word[0] != candidate[0] or candidate.startswith(word) or word.startswith(candidate):
        return False
    return not (len(word) == len(candidate) and word[:-1] == candidate[:-1])


class Speller:
    """Corrections toward `words` (the catalog's texts), leaving alone every word in `known`
    (the encoder's whole words) or in the catalog."""

    def __init__(self, texts: Iterable[str], known: Iterable[str] = ()) -> None:
        counts: Counter[str] = Counter()
        # The catalog's words written as identifiers (see identifier_shaped), lower case.
        identifiers: Counter[str] = Counter()
        # By distinct spelling (tokenizer.counted_matches): the counts and order of _count
        # on every text, each lower-case word first where any spelling of it first comes.
        for word, count in counted_matches(_WORD, texts).items():
            low = word.lower()
            counts[low] += count
            if identifier_shaped(word):
                identifiers[low] += count
        # Layered: a write's speller (`changed`) shares them and holds its changes.
        self.counts, self.identifiers = LayeredCounts(counts), LayeredCounts(identifiers)
        self.encoder_known = frozenset(known)

    def _count(self, text: str, sign: int) -> None:
        for word in _WORD.findall(text):
            low = word.lower()
            self.counts.add(low, sign)
            if identifier_shaped(word):
                self.identifiers.add(low, sign)

    def changed(self, went: Iterable[str], came: Iterable[str]) -> Speller:
        """The speller of this one's texts less `went`, plus `came` (a write's changed
        texts): the same counts as one built from the new texts, without reading the rest
        (nor copying them: LayeredCounts)."""
        out = Speller((), self.encoder_known)
        out.counts, out.identifiers = self.counts.derived(), self.identifiers.derived()
        for text in went:
            out._count(text, -1)
        for text in came:
            out._count(text, 1)
        return out

    def correct(self, word: str) -> str | None:
        """The catalog word one edit from `word` (lower case), None when `word` is known,
        short, or has no such neighbour."""
        low = word.lower()
        if len(low) < MIN_LENGTH or self._inflected(low):
            return None
        if len(low) > LONG_WORD and len(low) > self._longest + 1:
            return None  # no catalog word is one edit from it
        found = [w for w in _edits(low) if w in self.counts and _typo(low, w)]
        if not found:
            return None
        return max(sorted(found), key=lambda w: self.counts[w])

    @cached_property
    def _longest(self) -> int:
        """The length of the catalog's longest word (read once, when a long word comes)."""
        return max(map(len, self.counts), default=0)

    def _inflected(self, word: str, known: Callable[[str], bool] | None = None) -> bool:
        """`word` is known (to `known`, else to the encoder or the catalog), or a known word
        with one of _ENDINGS."""
        known = known or self._known
        if known(word):
            return True
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                stem = word[: -len(ending)]
                if known(stem) or known(stem + "e"):
                    return True
        return False

    def names(self, text: str) -> list[str]:
        """The identifiers of `text` the catalog's texts hold but the encoder cannot read,
        neither as a whole word nor as a form of one (lower case): a word of MIN_NAME letters
        or more written as an identifier (identifier_shaped) by the request or by the catalog
        ("NotReady", "PasswordLastSet", "SIGTERM", "snmp" where the catalog writes SNMP).
        The encoder cuts them into pieces that mean nothing, so the request's vector misses
        them. Plain words the encoder's vocabulary lacks ("summarize", "sourdough") are not
        identifiers: its pieces read them well enough."""
        encoder = self.encoder_known.__contains__
        found = []
        for word in _WORD.findall(text):
            low = word.lower()
            if (
                len(low) >= MIN_NAME
                and low in self.counts
                and (low in self.identifiers or identifier_shaped(word))
                and not self._inflected(low, encoder)
            ):
                found.append(low)
        return found

    def _known(self, word: str) -> bool:
        """A whole word of the encoder's or one of the catalog's texts' (two sets, not
        their union: a write would copy the encoder's 20,000 words)."""
        return word in self.encoder_known or word in self.counts

    def unreadable(self, text: str) -> bool:
        """Whether `text` is plain words none of which anything knows: not the encoder, not
        the catalog, not as a form or a one-edit typo of a catalog word ("sdfgh jkl", "asdf
        qwerty"). The encoder's vector of such pieces means nothing, yet lands near some
        tool: a loose catalog's threshold then lets it through (MetaTool: "sdfgh jkl" ->
        webhooks). One known word ("hey jkl"), a digit or a symbol, and it is readable."""
        if not _PLAIN.fullmatch(text) or not _WORD.search(text):
            return False
        words = [w.lower() for w in _WORD.findall(text)]
        # Known words first: a correction tries ~54 x a word's length strings.
        if any(self._inflected(w) for w in words):
            return False
        return all(self.correct(w) is None for w in words)

    def spelled(self, text: str) -> str:
        """`text` with each correctable word replaced by its correction, and each identifier
        of words run together that neither the encoder nor the catalog knows whole (_JOINED)
        written as its words."""
        return _WORD.sub(self._respelled, text)

    def _respelled(self, match: re.Match[str]) -> str:
        word = match.group()
        parts = _JOINED.split(word)
        if len(parts) > 1 and not self._known(word.lower()):
            return " ".join(parts)
        return self.correct(word) or word
