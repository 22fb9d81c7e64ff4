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
from collections.abc import Callable, Container, Iterable, Sequence
from functools import lru_cache
from itertools import chain

from toolcatalog.selection.byte_cache import DEFAULT_SELECT_CACHE_BYTES, ByteLRU, terms_bytes
from toolcatalog.selection.lexicon import (
    EXACT_ONLY,
    PHRASES,
    PLATFORM_WORDS,
    RELATED,
    RELATED_WEIGHT,
    SYNONYMS,
)

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
_CHUNK = re.compile(r"[^\s\"'`()\[\]{}<>,;!?|=*&$]+")
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
def _chunk_terms(chunk: str) -> tuple[str, ...]:
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


def _rewrite_phrases(text: str) -> str:
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
    return tuple(chain.from_iterable(map(_chunk_terms, _CHUNK.findall(_rewrite_phrases(text)))))


_HOSTLIKE = re.compile(
    r"^(?=.*[a-z])(?=.*\d)[a-z0-9]+(?:[.-][a-z0-9]+)+$|^[a-z]{2,}\d+[a-z]?$", re.I
)
HOST_PART_WEIGHT = 0.35
_DEVICE = re.compile(r"^/dev/\S+$")


_NONE: tuple[str, ...] = ()


@lru_cache(maxsize=65536)
def _chunk_split(chunk: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A chunk's terms as (word terms, entity terms). Entity-like chunks are a host, an
    address or a device: their names (web01, vdb1) say *where*, not *what*, and go to the
    entity part; what kind of thing they are (`<ip>`, `<path>`, `dev`) stays a word."""
    terms = _chunk_terms(chunk)
    bare = chunk.strip(".:-+_~#@")
    device = _DEVICE.match(bare) is not None
    if device or _HOSTLIKE.match(bare) or terms[:1] in (("<ip>",), ("<cidr>",)):
        kind = tuple(t for t in terms if t.startswith("<") or (device and t == "dev"))
        return kind, tuple(t for t in terms if t not in kind)
    return terms, _NONE


@lru_cache(maxsize=65536)
def split_entities(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The terms of `text` in two parts: from its words, and from entity-like chunks (host
    names such as app3 or db-2.prod, addresses, /dev paths). A tool's examples name hosts and
    devices incidentally ("why is / full on db2"); indexed at full weight, such a name made a
    request about another problem on db2 pick that tool."""
    parts = list(map(_chunk_split, _CHUNK.findall(_rewrite_phrases(text))))
    if not parts:
        return _NONE, _NONE
    words, entities = zip(*parts, strict=True)
    return tuple(chain.from_iterable(words)), tuple(chain.from_iterable(entities))


# A host name the request gives ("kafka-broker-2", "web5", "ip-10-0-2-7") says where, not
# what: the encoder reads "kafka" in it as a need for Kafka tools. Such a chunk (host-like,
# starting with two letters, so "2-bedroom" and "F.3d" stay) that the catalog's own texts never
# use is left out of the text the encoder reads; a catalog that names it (an example's host,
# "ipv6", "ec2") keeps it. Measured on the starter catalog reduced to names and descriptions:
# dev 0.650 -> 0.675, held-out 0.767 -> 0.783; unchanged elsewhere (MetaTool 1,000, dev and
# held-out with examples, out-of-scope).
_HOST_HEAD = re.compile(r"^[a-z]{2}", re.I)
_CHUNK_EDGES = ".:-+_~#@"


def _bare_chunk(chunk: str) -> str:
    bare = chunk.strip(_CHUNK_EDGES).lower()
    return bare[:-2] if bare.endswith("'s") else bare


def text_chunks(texts: Iterable[str]) -> Counter[str]:
    """The chunks of `texts` as without_hosts compares them, each with how many times they
    come (so a write's changed texts can be taken out and put in: `changed_chunks`)."""
    return Counter(_bare_chunk(c) for text in texts for c in _CHUNK.findall(text))


def changed_chunks(chunks: Counter[str], went: Iterable[str], came: Iterable[str]) -> Counter[str]:
    """`chunks` of some texts, less those of `went`, plus those of `came`: a copy."""
    out = chunks.copy()
    for chunk in text_chunks(went).elements():
        out[chunk] -= 1
        if not out[chunk]:
            del out[chunk]
    out.update(text_chunks(came))
    return out


def without_hosts(text: str, known: Container[str]) -> str:
    """`text` without the host names `known` (the catalog's chunks) does not hold."""

    def keep(match: re.Match[str]) -> str:
        bare = _bare_chunk(match.group())
        if _HOST_HEAD.match(bare) and _HOSTLIKE.match(bare) and bare not in known:
            return ""
        return match.group()

    return _CHUNK.sub(keep, text)


def query_terms(text: str) -> dict[str, float]:
    """Distinct terms of a request with their weights: 1.0 for its own words, HOST_PART_WEIGHT
    for words inside host names (`kafka-broker-2` is context, not the request), RELATED_WEIGHT
    for related words the lexicon adds. A term keeps the highest weight it is given."""
    weights: dict[str, float] = {}
    for chunk in _CHUNK.findall(_rewrite_phrases(text)):
        weight = HOST_PART_WEIGHT if _HOSTLIKE.match(chunk.strip(".:-+_~#@")) else 1.0
        for term in _request_chunk_terms(chunk):
            if is_value_term(term):
                weights[term] = 1.0
            elif weights.get(term, 0.0) < weight:
                weights[term] = weight
    for term in [t for t, w in weights.items() if w == 1.0]:
        for related in RELATED.get(term, ()):
            for extra in _chunk_terms(related):
                weights.setdefault(extra, RELATED_WEIGHT)
    return weights


def is_value_term(term: str) -> bool:
    """Typed placeholders and host-like words (`kafka3`): evidence of context, not of a need."""
    return term.startswith("<") or any(c.isdigit() for c in term)


_PLATFORM_TERMS: dict[str, str] = {
    term: platform
    for platform, words in PLATFORM_WORDS.items()
    for word in words
    for term in tokens(word)
}


def platform_hint(terms: Iterable[str]) -> frozenset[str]:
    """The platforms (catalog platform names) a request's terms point at, e.g. {"windows"}
    for "restart the spooler on the windows file server"; empty when none is named."""
    return frozenset(_PLATFORM_TERMS[t] for t in terms if t in _PLATFORM_TERMS)


def clear_caches() -> None:
    """Forget every cached tokenisation (benchmarks measuring a cold index build)."""
    for cached in (tokens, split_entities, _chunk_terms, _chunk_split):
        cached.cache_clear()
    for request_cache in (REQUEST_TERMS, REQUEST_WORDS):
        request_cache.clear()


# Request texts go through byte-bounded caches of their own: the lru_caches above hold
# catalog texts (bounded by the catalog), and a caller's unique texts would fill them, up to
# 65,536 entries of any length each. Each gets a quarter of TOOLCATALOG_SELECT_CACHE_MAX_BYTES
# (configure_request_caches); the query embeddings get the other half (semantic.py).
def _uncached_tokens(text: str) -> tuple[str, ...]:
    chunks = _CHUNK.findall(_rewrite_phrases(text))
    return tuple(chain.from_iterable(map(_chunk_terms.__wrapped__, chunks)))


REQUEST_TERMS: ByteLRU[tuple[str, ...]] = ByteLRU(DEFAULT_SELECT_CACHE_BYTES // 4, terms_bytes)
REQUEST_WORDS: ByteLRU[tuple[str, ...]] = ByteLRU(DEFAULT_SELECT_CACHE_BYTES // 4, terms_bytes)
_request_chunk_terms = REQUEST_TERMS.memoised(_chunk_terms.__wrapped__)
# `tokens` for words of a request (its byte-bounded cache, not the catalog's).
request_tokens = REQUEST_WORDS.memoised(_uncached_tokens)


def configure_request_caches(max_bytes: int) -> None:
    """Give the request-text caches their share of `max_bytes` (the selector's setting)."""
    REQUEST_TERMS.resize(max_bytes // 4)
    REQUEST_WORDS.resize(max_bytes // 4)


_WORD = re.compile(r"[^\s,;()\[\]{}\"'`]+")


def user_words(
    request: str, correct: Callable[[str], str | None]
) -> list[tuple[str, frozenset[str]]]:
    """Each word of the request as typed, with the index terms it stands for (its stems and
    synonyms, and the spelling correction of each), for `in_user_words`."""
    out: list[tuple[str, frozenset[str]]] = []
    for raw in _WORD.findall(request):
        word = raw.strip(".:!?-/").lower() or raw.lower()
        stems = request_tokens(word)
        fixed = (correct(t) for t in stems)
        out.append((word, frozenset(stems).union(f for f in fixed if f is not None)))
    return out


def in_user_words(words: list[tuple[str, frozenset[str]]], terms: Sequence[str]) -> list[str]:
    """The request's own words (see `user_words`) behind matched index `terms`, in request
    order: "space", not the stem "spac"; a typo as typed."""
    wanted = set(terms)
    out: list[str] = []
    for word, stands_for in words:
        if stands_for & wanted and word not in out:
            out.append(word)
    return out
