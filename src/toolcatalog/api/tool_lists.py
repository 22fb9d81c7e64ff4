"""The one handler of `GET /api/v1/tools` (lists, filters and full-text search): a page cut
from the catalog version, joined from each tool's pre-encoded summary or body. The route
calls it after FastAPI validated the query; the middleware calls it before routing for the
plain spellings `parse_list_query` accepts, when no key needs checking. FastAPI's query
validation and dependency injection were ~80% of a list's CPU (py-spy at 10,000 tools:
~4 ms a request on the busy machine); anything else, such as a repeated or unknown parameter
or a value out of range, goes to the route, which answers it (422 included)."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl

import orjson

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Platform, Status

TAG_RE = r"^[a-z0-9][a-z0-9_.+-]{0,63}$"
MAX_LIMIT = 500
MAX_CURSOR = 1000
MAX_QUERY = 500
_SNAKE = re.compile(SNAKE_RE)
_TAG = re.compile(TAG_RE)
_PLATFORMS = frozenset(p.value for p in Platform)
_STATUSES = frozenset(s.value for s in Status)
_SINGLE = frozenset({"platform", "category", "status", "capability", "enabled", "q", "limit"})
_SINGLE |= {"cursor", "fields"}


class ListQuery(NamedTuple):
    filters: ToolFilter
    limit: int = 50
    cursor: str | None = None
    fields: Literal["summary", "full"] = "summary"


async def answer_list(catalog: ToolCatalogService, query: ListQuery) -> bytes:
    """The page's JSON (a ToolPageOut, api/routes/tools.py documents it). Raises
    InvalidDefinition for a cursor we did not make or an unknown capability."""
    page = await catalog.list_tools(query.filters, limit=query.limit, cursor=query.cursor)
    items = b",".join(i.summary if query.fields == "summary" else i.body for i in page.items)
    return (
        b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(page.next_cursor)
        + b',"total":' + str(page.total).encode() + b',"total_estimated":false}'
    )  # fmt: skip


def parse_list_query(raw: bytes) -> ListQuery | None:
    """The query string when it is spelt as the route would take it without complaint;
    None otherwise (the route then validates it). `updated_since` is left to the route."""
    values: dict[str, str] = {}
    tags: list[str] = []
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key == "tag" and _TAG.fullmatch(value):
            tags.append(value)
        elif key in _SINGLE and key not in values:
            values[key] = value
        else:
            return None
    limit = values.get("limit", "50")
    if not limit.isascii() or not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        return None
    spelt = values.get("enabled")
    fields = values.get("fields", "summary")
    platform, status = values.get("platform"), values.get("status")
    category, capability = values.get("category"), values.get("capability")
    q, cursor = values.get("q"), values.get("cursor")
    if (
        spelt not in (None, "true", "false")
        or fields not in ("summary", "full")
        or (platform is not None and platform not in _PLATFORMS)
        or (status is not None and status not in _STATUSES)
        or (category is not None and not _SNAKE.fullmatch(category))
        or (capability is not None and not _SNAKE.fullmatch(capability))
        or (q is not None and len(q) > MAX_QUERY)
        or (cursor is not None and len(cursor) > MAX_CURSOR)
    ):
        return None
    filters = ToolFilter(
        platform=platform,
        category=category,
        status=status,
        tags=tuple(tags),
        capability=capability,
        enabled=None if spelt is None else spelt == "true",
        q=q,
    )
    return ListQuery(filters, int(limit), cursor, "full" if fields == "full" else "summary")
