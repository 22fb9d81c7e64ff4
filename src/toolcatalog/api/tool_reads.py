"""The one handler of `GET /api/v1/tools/{name}`: a held tool from memory (the early return,
no I/O), else the tool loaded from the database, else the last one held flagged stale while
the database is slow or away; 304 to a matching If-None-Match. The middleware calls it for
reads that need no key check (skipping FastAPI's routing and dependency injection, ~5x the
rest of the request, docs/performance.md); the route calls it after checking the key and
validating the path and headers. Either way the same code answers."""

from __future__ import annotations

import re
from typing import NamedTuple

from toolcatalog import metrics
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.views import CachedTool
from toolcatalog.errors import StoreUnavailable
from toolcatalog.model.fields import TOOL_NAME_RE
from toolcatalog.model.tool import RESERVED_NAMES

# An expired cached tool whose reload takes longer than this is served as it was (marked
# stale) while the reload goes on: a hung database must not hold reads for the command timeout.
STALE_AFTER_S = 0.2
MAX_IF_NONE_MATCH = 1000  # the route's Header(max_length=...)
_NAME = re.compile(TOOL_NAME_RE)
_CACHE_CONTROL = (b"cache-control", b"no-cache")
_JSON = (b"content-type", b"application/json")


class ToolAnswer(NamedTuple):
    """A response as ASGI sends it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def route_takes(name: str, if_none_match: str | None) -> bool:
    """Whether a GET of `/api/v1/tools/{name}` reaches the tool route (not a fixed route such
    as /health) and passes its validation (else it answers 422)."""
    return (
        name not in RESERVED_NAMES
        and _NAME.match(name) is not None
        and (if_none_match is None or len(if_none_match) <= MAX_IF_NONE_MATCH)
    )


def etag_matches(etag: str, if_none_match: str) -> bool:
    """If-None-Match compares weakly (RFC 9110): `*`, or the ETag among the listed tags with
    any W/ dropped."""
    seen = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in seen or "*" in seen


async def answer_tool(
    catalog: ToolCatalogService, name: str, if_none_match: str | None
) -> ToolAnswer:
    """The answer to a GET of tool `name`. Raises NotFound (with the closest names) or
    StoreUnavailable (nothing held to fall back on), which the caller maps to a problem."""
    held = catalog.state.held_tool(name)
    if held is not None:
        return _answer(held, if_none_match)
    warning = None
    try:
        cached, slow = await catalog.get_tool_or_stale(name, STALE_AFTER_S)
        if slow:
            warning = "Response is stale: the database did not answer in time"
    except StoreUnavailable:
        fallback = catalog.peek_tool(name)
        if fallback is None:
            raise
        cached, warning = fallback, "Response is stale: database unreachable"
    return _answer(cached, if_none_match, warning)


def _answer(
    cached: CachedTool, if_none_match: str | None, warning: str | None = None
) -> ToolAnswer:
    headers = [(b"etag", cached.etag.encode()), _CACHE_CONTROL]
    if warning is not None:
        metrics.STALE_SERVED.inc()
        headers += [
            (b"x-cache-stale", b"true"),
            (b"warning", f'110 toolcatalog "{warning}"'.encode()),
        ]
    if if_none_match is not None and etag_matches(cached.etag, if_none_match):
        return ToolAnswer(304, headers, b"")
    body = cached.body
    headers += [(b"content-length", str(len(body)).encode()), _JSON]
    return ToolAnswer(200, headers, body)
