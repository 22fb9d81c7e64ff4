"""A stored tool made ready to serve (CachedTool): its body, summary and ETag encoded once, its
search lexemes made, its models sharing their fields sets with every other tool's (heap.py)."""

from __future__ import annotations

from functools import lru_cache
from itertools import chain

import orjson

from toolcatalog.catalog.heap import share_beside, share_fields_sets
from toolcatalog.catalog.lexicon import LEXICON, Terms
from toolcatalog.catalog.text_query import search_parts, search_text, tokens
from toolcatalog.catalog.views import CachedTool, pack_body, summary_of
from toolcatalog.model.tool import Tool
from toolcatalog.store.tools import ToolRecord


def entry_of(record: ToolRecord, tool: Tool, terms: Terms | None = None) -> CachedTool:
    """A validated record ready to serve: body (compressed), summary and ETag encoded once, the
    tool's models sharing their fields sets with every other tool's (heap.py). `terms`: the
    tool's search lexemes (`tool_terms`) when already made, the costly part (~0.3-1.5 ms of
    CPU for a starter tool)."""
    if terms is None:
        terms = tool_terms(tool)
    return CachedTool(
        tool=tool,
        packed=pack_body(orjson.dumps(record.definition)),
        etag=record.etag,
        revision=record.revision,
        created_at=record.created_at,
        updated_at=record.updated_at,
        id=record.id,
        summary=held_bytes(orjson.dumps(summary_of(tool, record.revision, record.updated_at))),
        terms=terms,
    )


def held_bytes(encoded: bytes) -> bytes:
    """`encoded` in a buffer of its own size, to keep. orjson hands back its growing buffer
    (a 355-byte summary held 4 KiB, a 4 KB body 8 KiB, a 5 KB one 64 KiB, by tracemalloc);
    the copy costs ~1 us and saved ~7.7 KiB a generated tool (bench/memory.py)."""
    return memoryview(encoded).tobytes()


def tool_terms(tool: Tool, *, remembered: bool = False) -> Terms:
    """The tool's search lexemes (CachedTool.terms: lexicon.py's codes), with its models made
    to share their fields sets with every other tool's (heap.py): what `entry_of` costs
    beyond encoding.
    `remembered` (a write's plan): each piece of its text through a memo of recent pieces, so
    a write that changes a description makes that description's lexemes only (a quarter of
    planning a patch of a large starter tool: ~0.6 of 2.6 ms). Not for imports and whole
    reads, which see each piece once; its models are shared beside (heap.share_beside: the
    larger part of a plan's CPU on the loop)."""
    if not remembered:
        share_fields_sets(tool, from_json=True)
        return LEXICON.encode(tokens(search_text(tool)))
    share_beside(tool)
    return LEXICON.encode(tuple(chain.from_iterable(_piece_tokens(p) for p in search_parts(tool))))


# Pieces of recently written tools' texts: a piece is short (a name, a description, a use
# case), and a catalog's writes mostly change a few pieces of tools written before.
_piece_tokens = lru_cache(maxsize=8192)(tokens)
