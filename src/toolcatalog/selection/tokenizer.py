"""Ops-aware tokenising shared by the index and the request, so both sides agree on every term.

Requests are full of things a plain word splitter mangles: hosts (`web01`, `db-2.prod`), paths
(`/var/log`, `D:\\HR`), units (`10GB`, `500ms`), addresses, flags (`--dry-run`), camelCase and
snake_case identifiers (`NotReady`, `long_query_time`). Each becomes plain words plus, for
values, a typed placeholder term (`<ip>`, `<path>`, `<size>`...) that matches the same kind of
value in a tool's examples. Words are lower-cased, stop words dropped, synonyms collapsed and
lightly stemmed (suffixes only, no dictionary).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, islice

from toolcatalog.selection.lexicon import EXACT_ONLY, PHRASES, SYNONYMS

_STOPWORD_TEXT = """
    a about above after again against am an and any are aren as at be because been before being
    below between both but by can cannot could couldn did didn do does doesn doing don down during
    each few for from further had hadn has hasn have haven having he her here hers herself him
    himself his how i if in into is isn it its itself just let me more most my myself no nor not
    now of off on once only or other ought our ours ourselves out over own same shan she should
    shouldn so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was wasn we were weren what when where which while
    who whom why will with won would wouldn you your yours yourself yourselves
    also actually already anyone anything else even ever get gets got getting just like
    need needs needed please really right someone somebody something still thing things
    want wanted wants way ways whether yet use using used lot lots much many every etc ll ve re
    tell show see know go going goes went one two via per kind sort bit whole since us new
    """
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Values: each pattern maps a whole chunk to a typed placeholder term.
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}$"), "<cidr>"),
    (re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?$"), "<ip>"),
    (re.compile(r"^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:/\d{1,3})?$"), "<ip>"),
    (re.compile(r"^:\d{2,5}$"), "<port>"),
    (re.compile(r"^\d+(?:\.\d+)?(?:[kmgtp]i?b?|bytes?)$"), "<size>"),
    (re.compile(r"^\d+(?:\.\d+)?(?:[kmg]b(?:it)?|[kmg]bps|mb/s|gb/s)$"), "<rate>"),
    (re.compile(r"^\d+(?:\.\d+)?(?:ms|us|ns|s|secs?|m|mins?|h|hrs?|d|days?|w)$"), "<duration>"),
    (re.compile(r"^\d+(?:\.\d+)?%$"), "<percent>"),
    (re.compile(r"^0x[0-9a-f]+$"), "<hex>"),
    (re.compile(r"^(?=[a-f]*\d)[0-9a-f]{8,40}$"), "<hex>"),
)
_MAYBE_VALUE = re.compile(r"[\d:]")  # every value pattern needs a digit or a colon
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
_PATHISH = re.compile(r"^(?:/|~/|\./|[a-z]:\\|\\\\)")
# A chunk ends at white space, quotes, brackets and sentence punctuation (but not at . / : - _
# which live inside hosts, paths, versions and identifiers).
CHUNK = re.compile(r"[^\s\"'`()\[\]{}<>,;!?|=*&$]+")
_SEPARATORS = re.compile(r"[/\\.:@+#~-]+")
# Pieces of a mixed-case identifier: an acronym keeps its digits ("EC2Instance": ec2, instance)
# and its version ("SNMPv3": snmp, v3; "IPv6": ip, v6) instead of losing its last letter to the
# next word ("SNM", "Pv").
_CAMEL = re.compile(
    r"[A-Z]{2,}(?=v\d)|(?<=[A-Z])v\d+|[A-Z]+\d+|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+"
)
_LETTERS_THEN_DIGITS = re.compile(r"^([a-z]{2,})\d+[a-z]?$")
_ACRONYM_PLURAL = re.compile(r"^[A-Z]{2,}s$")


def stem(word: str) -> str:
    """A light suffix stripper (plurals, -ing, -ed, -ly, -ation, a final e): enough to make
    `rotating`, `rotation` and `rotate` meet, never a dictionary."""
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix, keep in (("ation", 3), ("ing", 3), ("ed", 3), ("ly", 4)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            w = w[: -len(suffix)]
            if suffix == "ation":
                w += "at"
            elif len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # undouble: stopp -> stop, logg -> log
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def _build_synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in SYNONYMS:
        canonical = group[0]
        for word in group:
            table.setdefault(word, canonical)
            if canonical not in EXACT_ONLY:
                table.setdefault(stem(word), canonical)
    return table


_SYNONYM = _build_synonyms()
_PHRASE = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(PHRASES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


Trie = dict[str, "Trie"]


def _trie_pattern(words: list[str]) -> str:
    """One regular expression matching any of `words`, as a trie (`load (?:balancer)...`):
    Python's re tries each branch of a flat alternation at every position; the trie is about
    twice as fast on catalog texts, most of which contain no phrase at all."""
    trie: Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: Trie) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


_PHRASE_LOWER = re.compile(_trie_pattern([p.lower() for p in PHRASES]))


def normalise_word(word: str) -> str | None:
    """One lower-case word as its index term, or None for a stop word or noise."""
    if len(word) < 2 or word in STOPWORDS or word.isdigit():
        return None
    if (canonical := _SYNONYM.get(word)) is not None:
        return canonical
    stemmed = stem(word)
    canonical = _SYNONYM.get(stemmed, stemmed)
    return word if canonical in EXACT_ONLY else canonical


@lru_cache(maxsize=65536)
def chunk_terms(chunk: str) -> tuple[str, ...]:
    """The terms of one white-space-free chunk, cached: texts repeat their words a lot."""
    raw = chunk.strip(".:-+_~#@")
    if raw.isalpha() and (raw.islower() or raw[1:].islower()):  # most: a plain word
        term = normalise_word(raw.lower())
        return () if term is None else (term,)
    low = raw.lower()
    if not low:
        return ()
    if _MAYBE_VALUE.search(low):
        for pattern, kind in _VALUE_PATTERNS:
            if pattern.match(low):
                return (kind,)
    out: list[str] = []
    if _URL.match(low):
        out.append("<url>")
        raw = raw.split("://", 1)[1]
    elif _EMAIL.match(low):
        out.append("<email>")
    elif _PATHISH.match(low) or low.count("/") >= 2:
        out.append("<path>")
    for segment in _SEPARATORS.split(raw):
        out.extend(_segment_terms(segment))
    return tuple(dict.fromkeys(out))


def _segment_terms(segment: str) -> list[str]:
    """Terms of a segment such as `long_query_time`, `NotReady`, `web01` or `ed25519`."""
    if not segment:
        return []
    parts = [p for p in segment.split("_") if p]
    words: list[str] = []
    for part in parts:
        if _ACRONYM_PLURAL.match(part):  # IPs, VMs, PIDs: the acronym, not I + Ps
            words.append(part[:-1].lower())
            continue
        pieces = _CAMEL.findall(part) if not part.islower() and not part.isupper() else [part]
        if len(pieces) > 1:
            words.append(part.lower())  # keep `notready`, `pwdlastset` whole as well
        words.extend(p.lower() for p in pieces)
    out: list[str] = []
    if len(parts) > 1:
        out.append("_".join(p.lower() for p in parts))  # identifiers match whole, too
    for word in words:
        if (host := _LETTERS_THEN_DIGITS.match(word)) is not None:
            out.append(word)  # `kafka3` as is, and `kafka`
            word = host.group(1)
        term = normalise_word(word)
        if term is not None:
            out.append(term)
    return out


def rewrite_phrases(text: str) -> str:
    # A case-sensitive search of the lowered text first: most texts hold no phrase, and the
    # case-insensitive substitution costs ~5 us a call.
    if _PHRASE_LOWER.search(text.lower()) is None:
        return text
    return _PHRASE.sub(lambda m: PHRASES[m.group(1).lower()], text)


def tokenize(text: str) -> list[str]:
    """Every term of `text` in order, repeats kept (term frequency matters to the index)."""
    return list(tokens(text))


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """`tokenize` as a cached tuple: catalogs repeat capability, vocabulary and pattern texts
    across many tools, and the index shares one tuple per distinct text."""
    # map/chain keep the per-chunk loop in C: 10,000 tools have about 900,000 chunks.
    return tuple(chain.from_iterable(map(chunk_terms, CHUNK.findall(rewrite_phrases(text)))))


# Texts joined per findall in counted_matches: ~0.5 MB of text, so no list of every match of
# a large catalog is held at once (100,000 generated tools: ~7 million words).
_COUNTED_TEXTS = 4096


def counted_matches(pattern: re.Pattern[str], texts: Iterable[str]) -> Counter[str]:
    """How many times each match of `pattern` (one that never matches across a line break)
    comes in `texts`, in the order first found: the texts of a batch joined by line breaks,
    matched at once and counted in C. A start counting a large catalog's words or chunks
    one text and one word at a time in Python paid ~1 µs a word (spelling.Speller,
    hosts.text_chunks: ~7 s at 100,000 generated tools); callers go through the distinct
    matches instead."""
    found: Counter[str] = Counter()
    it = iter(texts)
    while batch := list(islice(it, _COUNTED_TEXTS)):
        found.update(pattern.findall("\n".join(batch)))
    return found
