"""Encoded answers of the seed's read routes (api/routes/seed_reads.py), and the one handler
that builds them, shared by the route and the middleware's fast path (`serve_seed`).

Each tool's seed shape is encoded once per cache entry (the entry is replaced when the tool
changes) and a list, search or platform page is those bytes joined (`orjson.Fragment`), kept
with the catalog snapshot it was cut from (every write replaces the snapshot). So a seed
read costs what our native GET costs: no validation, no serialisation of models, no query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from starlette.types import Scope, Send

from toolcatalog.api.seed_shapes import OUR_STATUS, SEED_STATUSES, seed_tool
from toolcatalog.api.seed_stats import SeedStats
from toolcatalog.api.tool_reads import route_takes
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool

SEED_PREFIX = "/opsconductor/api/v1/tools"
SHARED_PREFIX = "/api/v1/tools"

# The bounds of the seed list's query parameters (the route declares them with these).
PAGE_MAX = 1_000_000
PAGE_SIZE_MAX = 100
PAGE_SIZE_DEFAULT = 50
FILTER_MAX = 64  # platform, category
NAME_MAX = 200  # name=, a tool name in a path
# The texts the list's `name=` is looked for in (catalog/substrings.py).
NAME_COLUMNS = ("name", "display_name")


@dataclass(frozen=True, slots=True)
class SeedListQuery:
    """The seed list's parameters, validated (`latest=true` is what every list holds)."""

    page: int = 1
    page_size: int = PAGE_SIZE_DEFAULT
    platform: str | None = None
    category: str | None = None
    status: str | None = None  # the seed's spelling (`testing`)
    enabled: bool | None = None
    name: str | None = None  # a part of the name, any case

    def filters(self) -> tuple[Any, ...]:
        return (self.platform, self.category, self.status, self.enabled, self.name)

    def names(self, version: CatalogVersion) -> tuple[str, ...]:
        """The names of `version`'s tools matching these filters, in name order: the
        shortest of the filter index's lists asked for and the names holding `name`,
        checked for the rest. An unknown value or a needle costs no walk of the catalog
        (it walked every tool once per distinct filters)."""
        status = OUR_STATUS.get(self.status, self.status) if self.status else None
        lists = [
            version.names_with(field, value)
            for field, value in (
                ("platform", self.platform),
                ("category", self.category),
                ("status", status),
                ("enabled", self.enabled),
            )
            if value is not None
        ]
        if self.name:
            lists.append(version.names_containing(self.name.lower(), NAME_COLUMNS))
        return version.in_every(lists, lambda entry: self.matches(entry.tool))

    def matches(self, tool: Tool) -> bool:
        status = OUR_STATUS.get(self.status, self.status) if self.status else None
        needle = self.name.lower() if self.name else None
        return (
            (self.platform is None or tool.platform.value == self.platform)
            and (self.category is None or tool.category == self.category)
            and (status is None or tool.status.value == status)
            and (self.enabled is None or tool.enabled is self.enabled)
            and (
                needle is None or needle in tool.name or needle in (tool.display_name or "").lower()
            )
        )


_NUMBER = re.compile(r"[1-9][0-9]{0,6}")
_BOOLEANS = {"true": True, "false": False}
_TEXT_MAX = {"platform": FILTER_MAX, "category": FILTER_MAX, "name": NAME_MAX}


def parse_list_query(raw: bytes) -> SeedListQuery | None:
    """The list query of a query string in its plain spellings (`?name=test`,
    `?enabled=true`, `?page=2&page_size=20`, ...), parsed as the route parses it (starlette's
    parse_qsl); None for anything else (a repeated, empty or unknown parameter, a value out of
    bounds or spelled otherwise, `latest=false`): the route then validates and answers it."""
    if not raw:
        return SeedListQuery()
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key in fields or not value:
            return None
        if key in ("page", "page_size"):
            if not _NUMBER.fullmatch(value):
                return None
            number = int(value)
            if number > (PAGE_MAX if key == "page" else PAGE_SIZE_MAX):
                return None
            fields[key] = number
        elif key in _TEXT_MAX:
            if len(value) > _TEXT_MAX[key]:
                return None
            fields[key] = value
        elif key == "status" and value in SEED_STATUSES:
            fields[key] = value
        elif key == "enabled" and value in _BOOLEANS:
            fields[key] = _BOOLEANS[value]
        elif key == "latest" and value == "true":
            fields[key] = True
        else:
            return None
    fields.pop("latest", None)
    return SeedListQuery(**fields)


Lookup = Callable[[str], CachedTool | None]


class SeedAnswers:
    """Encoded answers, valid while the catalog snapshot they were cut from is current, plus
    each tool's encoded seed shape while its cache entry is the same object. Bounded: each
    table is cleared when full."""

    MAX_PAGES = 512
    MAX_TOOLS = 20_000

    def __init__(self) -> None:
        self.snapshot: CatalogSnapshot | None = None
        self.pages: dict[Any, bytes] = {}
        self.matching: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self.tools: dict[str, tuple[CachedTool, bytes]] = {}

    @staticmethod
    def of(request: Request) -> SeedAnswers:
        return SeedAnswers.of_state(request.app.state)

    @staticmethod
    def of_state(state: Any) -> SeedAnswers:
        answers: SeedAnswers | None = getattr(state, "seed_answers", None)
        if answers is None:
            answers = state.seed_answers = SeedAnswers()
        return answers

    def kept(self, snapshot: CatalogSnapshot, key: Any) -> bytes | None:
        """The answer kept for `key` if it was cut from `snapshot` (an older one is dropped)."""
        if snapshot is not self.snapshot:
            self.snapshot, self.pages, self.matching = snapshot, {}, {}
        return self.pages.get(key)

    def keep(self, key: Any, body: bytes) -> bytes:
        if len(self.pages) >= self.MAX_PAGES:
            self.pages.clear()
        self.pages[key] = body
        return body

    def tool(self, cached: CachedTool) -> bytes:
        """The seed shape of this very cache entry, encoded once."""
        name = cached.tool.name
        known = self.tools.get(name)
        if known is not None and known[0] is cached:
            return known[1]
        if len(self.tools) >= self.MAX_TOOLS:
            self.tools.clear()
        body = orjson.dumps(seed_tool(cached))
        self.tools[name] = (cached, body)
        return body

    def joined(self, found: Iterable[CachedTool]) -> list[orjson.Fragment]:
        """The seed shapes of `found`, to place in an answer as they are."""
        return [orjson.Fragment(self.tool(c)) for c in found]

    def listed(self, version: CatalogVersion, query: SeedListQuery) -> tuple[str, ...]:
        """The names of the version's tools matching the list's filters, by name."""
        self.kept(version.snapshot, None)
        key = query.filters()
        names = self.matching.get(key)
        if names is None:
            if len(self.matching) >= self.MAX_PAGES:
                self.matching.clear()
            names = self.matching[key] = query.names(version)
        return names

    def page_names(self, version: CatalogVersion, query: SeedListQuery) -> tuple[str, ...]:
        start = (query.page - 1) * query.page_size
        return self.listed(version, query)[start : start + query.page_size]

    def list_page(
        self,
        version: CatalogVersion,
        query: SeedListQuery,
        lookup: Lookup,
        *,
        skip_missing: bool = False,
    ) -> bytes | None:
        """The seed's list page, from `lookup`'s entries of the page's tools. None if one of
        them is missing, unless `skip_missing` (a tool removed since the snapshot was cut).
        A `name=` needs the version's texts of names (`ToolCatalogService.with_columns`:
        the callers make them beside the loop first)."""
        body = self.kept(version.snapshot, query)
        if body is not None:
            return body
        found = []
        for name in self.page_names(version, query):
            cached = lookup(name)
            if cached is None:
                if skip_missing:
                    continue
                return None
            found.append(cached)
        answer = {
            "tools": self.joined(found),
            "total": len(self.listed(version, query)),
            "page": query.page,
            "page_size": query.page_size,
        }
        return self.keep(query, orjson.dumps(answer))


async def serve_seed(scope: Scope, send: Send) -> str | None:
    """The middleware's fast path of the seed's list, get and performance stats: answered
    from what this process holds, by the handlers the routes use (`SeedAnswers`,
    `SeedStats`), without FastAPI's routing and validation. Returns the route template
    served, or None (nothing sent) to send the request to the route: a query the route must
    validate, a tool not held in memory, stats not kept fresh, reads that need a key. The
    caller skips it when a key is sent (the route checks it)."""
    path: str = scope["path"]
    state = scope["app"].state
    runtime = getattr(state, "runtime", None)
    if runtime is None or runtime.settings.auth == "required":
        return None
    if path.startswith(SEED_PREFIX):
        prefix = SEED_PREFIX
    elif path.startswith(SHARED_PREFIX) and runtime.settings.opsconductor_api:
        prefix = SHARED_PREFIX
    else:
        return None
    rest = path[len(prefix) :]
    catalog = runtime.catalog
    answers = SeedAnswers.of_state(state)
    headers = [(b"content-type", b"application/json")]
    if not rest:
        query = parse_list_query(scope["query_string"])
        version = catalog.peek_version()
        if query is None or version is None:
            return None
        if query.name:
            await catalog.with_columns(version, NAME_COLUMNS)
        body = answers.list_page(version, query, catalog.state.held_tool)
        template = prefix
    elif rest[0] == "/" and "/" not in rest[1:] and not scope["query_string"]:
        name = rest[1:]
        if not route_takes(name, None):
            return None  # a fixed route (/health), or a name the route refuses
        cached = catalog.state.held_tool(name)
        if cached is None:
            return None
        body = answers.tool(cached)
        template = prefix + "/{tool_name}"
        headers.append((b"etag", cached.etag.encode()))
    elif rest == "/performance/stats" and not scope["query_string"]:
        body = SeedStats.of_state(state).answer_if_fresh()
        template = prefix + rest
    else:
        return None
    if body is None:
        return None
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return template
