"""What the catalog hands to the doors: a tool ready to serve and a page of them. Read models,
never store rows, so a column can change without touching a route."""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import datetime

import orjson

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.tool import Tool


@dataclass(frozen=True, slots=True)
class CachedTool:
    """A tool ready to serve: the model, its JSON body encoded once, and its validators."""

    tool: Tool
    # The body, zlib-compressed (`pack_body`; read it as `body`): bodies were the largest
    # part of a held tool after its models, ~4 KiB a generated tool (386 MiB at 100,000
    # tools), ~5 KiB a starter one; compressed, ~0.7 and ~1.9 KiB.
    packed: bytes
    etag: str
    revision: int
    created_at: datetime
    updated_at: datetime
    id: int = 0  # the row's id (the seed's clients read `id`)
    # The ToolSummary JSON of list and search pages, encoded once with the body.
    summary: bytes = b""
    # The lexemes of its search text in order, one code point a position (lexicon.py; a
    # tuple of the lexemes took ~0.9 KiB a generated tool more; search_index.py reads it).
    terms: str = ""

    @property
    def body(self) -> bytes:
        """The tool's JSON as served: the recently read ones from memory (RECENT_BODIES),
        others decompressed (~10-20 us for a 4-5 KB body), so a caller that needs it twice
        keeps it."""
        packed = self.packed
        body = _recent_bodies.get(packed)
        if body is None:
            body = zlib.decompress(packed)
            if len(body) <= RECENT_BODY_MAX:
                if len(_recent_bodies) >= RECENT_BODIES:
                    _recent_bodies.clear()  # bounded; the hot ones come back at once
                _recent_bodies[packed] = body
        return body


# Bodies read lately, by their compressed bytes (whose hash each entry computes once): a fleet
# mostly GETs a few hundred tools, which then cost no decompression. At most RECENT_BODIES x
# RECENT_BODY_MAX bytes (32 MiB; ~2.5 MiB of 5 KB bodies). One dict: its get and set are
# atomic under the GIL, so readers on other threads (a write's plan) need no lock.
RECENT_BODIES = 512
RECENT_BODY_MAX = 64 << 10
_recent_bodies: dict[bytes, bytes] = {}


def pack_body(encoded: bytes) -> bytes:
    """`encoded` (a tool's JSON) as CachedTool keeps it: zlib at level 1 (~30-50 us; level 6
    saved ~8 % more for ~1.3x the CPU)."""
    return zlib.compress(encoded, 1)


def summary_of(tool: Tool, revision: int, updated_at: datetime) -> dict[str, object]:
    """What a list or search shows of a tool (api/schemas.py documents it as ToolSummary)."""
    return {
        "name": tool.name,
        "display_name": tool.display_name,
        "version": tool.version,
        "description": tool.description,
        "platform": tool.platform.value,
        "category": tool.category,
        "tags": list(tool.tags),
        "status": tool.status.value,
        "enabled": tool.enabled,
        "capabilities": [c.name for c in tool.capabilities],
        "revision": revision,
        # pydantic's rendering of an aware datetime (Z for UTC), as before.
        "updated_at": updated_at.isoformat().replace("+00:00", "Z"),
    }


@dataclass(frozen=True, slots=True)
class ToolPage:
    """One keyset page: pass `next_cursor` back for the next one (None on the last)."""

    items: list[CachedTool]
    next_cursor: str | None
    total: int


def encode_cursor(name: str, rank: float) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([name, rank])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, float]:
    """The (name, rank) a cursor carries. Raises InvalidDefinition for one we did not make."""
    try:
        name, rank = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return str(name), float(rank)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidDefinition(
            "the cursor is not one this server made",
            [Problem("cursor", "pass back the next_cursor of the previous page unchanged")],
        ) from None
