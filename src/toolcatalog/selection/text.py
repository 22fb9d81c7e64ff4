"""A request's terms: their weights (query_terms), the platforms they name, the user's own
words behind matched terms, and the byte-bounded caches of request texts. The tokeniser itself
is tokenizer.py; host names and other entities are hosts.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import chain

from toolcatalog.selection.byte_cache import DEFAULT_SELECT_CACHE_BYTES, ByteLRU, terms_bytes
from toolcatalog.selection.hosts import (
    HOSTLIKE,
    chunk_split,
    split_entities,
)
from toolcatalog.selection.lexicon import PLATFORM_WORDS, RELATED, RELATED_WEIGHT
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.tokenizer import CHUNK, chunk_terms, rewrite_phrases, tokens

__all__ = [
    "HOST_PART_WEIGHT",
    "REQUEST_TERMS",
    "REQUEST_WORDS",
    "clear_caches",
    "configure_request_caches",
    "in_user_words",
    "is_value_term",
    "platform_hint",
    "query_terms",
    "release_catalog_caches",
    "request_tokens",
    "user_words",
]

HOST_PART_WEIGHT = 0.35


def query_terms(text: str) -> dict[str, float]:
    """Distinct terms of a request with their weights: 1.0 for its own words, HOST_PART_WEIGHT
    for words inside host names (`kafka-broker-2` is context, not the request), RELATED_WEIGHT
    for related words the lexicon adds. A term keeps the highest weight it is given."""
    weights: dict[str, float] = {}
    for chunk in CHUNK.findall(rewrite_phrases(text)):
        weight = HOST_PART_WEIGHT if HOSTLIKE.match(chunk.strip(".:-+_~#@")) else 1.0
        for term in _request_chunk_terms(chunk):
            if is_value_term(term):
                weights[term] = 1.0
            elif weights.get(term, 0.0) < weight:
                weights[term] = weight
    for term in [t for t, w in weights.items() if w == 1.0]:
        for related in RELATED.get(term, ()):
            for extra in chunk_terms(related):
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
    release_catalog_caches(overflowed_only=False)
    for request_cache in (REQUEST_TERMS, REQUEST_WORDS):
        request_cache.clear()


def release_catalog_caches(*, overflowed_only: bool = True) -> bool:
    """Forget the catalog texts' cached tokenisations once a build from nothing has run
    through more distinct texts than `tokens` keeps (a large catalog): they then hold the
    build's last 65,536 texts of each kind, not a working set, ~25 MiB at 10,000 generated
    tools and up to ~45 MiB at more, which a restart (the index loaded, not tokenised) never
    fills. Later builds tokenise only the texts of the tools they change, as after a
    restart. Whether they were forgotten."""
    if overflowed_only:
        info = tokens.cache_info()
        if info.currsize < (info.maxsize or 0):
            return False
    for cached in (tokens, split_entities, chunk_terms, chunk_split, affirmed):
        cached.cache_clear()
    return True


# Request texts go through byte-bounded caches of their own: the lru_caches above hold
# catalog texts (bounded by the catalog), and a caller's unique texts would fill them, up to
# 65,536 entries of any length each. Each gets a quarter of TOOLCATALOG_SELECT_CACHE_MAX_BYTES
# (configure_request_caches); the query embeddings get the other half (semantic.py).
def _uncached_tokens(text: str) -> tuple[str, ...]:
    chunks = CHUNK.findall(rewrite_phrases(text))
    return tuple(chain.from_iterable(map(chunk_terms.__wrapped__, chunks)))


REQUEST_TERMS: ByteLRU[tuple[str, ...]] = ByteLRU(DEFAULT_SELECT_CACHE_BYTES // 4, terms_bytes)
REQUEST_WORDS: ByteLRU[tuple[str, ...]] = ByteLRU(DEFAULT_SELECT_CACHE_BYTES // 4, terms_bytes)
_request_chunk_terms = REQUEST_TERMS.memoised(chunk_terms.__wrapped__)
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
