"""What selection remembers of request texts stays within TOOLCATALOG_SELECT_CACHE_MAX_BYTES,
however many unique texts arrive; catalog-text caches never see request texts."""

from __future__ import annotations

import random
import string
from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.selection import text, tokenizer
from toolcatalog.selection.byte_cache import ByteLRU, terms_bytes
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import QueryEncoder

from .selection_catalog import ask
from .stub_encoder import StubEncoder, filled

BUDGET = 1024 * 1024


def _unique_request(rng: random.Random) -> str:
    """About 4,000 characters: unique words, and one long unbroken chunk."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 14))) for _ in range(250)]
    chunk = "".join(rng.choices(string.ascii_lowercase + string.digits + "_", k=600))
    return " ".join(["why", "is", "the", "disk", "full", *words, chunk])[:4000]


def test_a_flood_of_unique_long_requests_keeps_the_request_caches_within_the_budget(
    catalog_dir: Path,
) -> None:
    settings = Settings(llm_url=None, semantic=False, select_cache_max_bytes=BUDGET)
    selector = Selector(FolderSource(catalog_dir, check_interval_s=0), settings)
    ask(selector, "why is the disk full")  # the index is built (catalog texts cached)
    catalog_chunks = tokenizer.chunk_terms.cache_info().currsize
    catalog_tokens = tokenizer.tokens.cache_info().currsize
    rng = random.Random(7)
    for _ in range(150):
        ask(selector, _unique_request(rng))
        held = text.REQUEST_TERMS.nbytes + text.REQUEST_WORDS.nbytes
        assert held <= BUDGET // 2
    assert len(text.REQUEST_TERMS) > 0  # they do remember, within their share
    # The catalog's own caches took none of it.
    assert tokenizer.chunk_terms.cache_info().currsize == catalog_chunks
    assert tokenizer.tokens.cache_info().currsize == catalog_tokens


def test_query_embeddings_are_kept_within_their_byte_budget() -> None:
    encoder = StubEncoder(filled(float))
    queries = QueryEncoder(encoder, max_bytes=BUDGET // 2)
    rng = random.Random(11)
    for _ in range(600):
        queries(_unique_request(rng))
        assert queries.cache.nbytes <= BUDGET // 2
    assert 0 < len(queries.cache) < 600
    repeated = _unique_request(random.Random(11))  # the first one: long gone
    calls = encoder.calls
    queries(repeated)
    assert encoder.calls == calls + 1


def test_an_entry_larger_than_the_whole_budget_is_not_kept() -> None:
    cache: ByteLRU[tuple[str, ...]] = ByteLRU(1_000, terms_bytes)
    cache.put("x" * 5_000, ("a",))
    assert len(cache) == 0
    assert cache.nbytes == 0
    cache.put("short", ("a", "b"))
    assert cache.get("short") == ("a", "b")
    cache.resize(10)
    assert (len(cache), cache.nbytes) == (0, 0)
