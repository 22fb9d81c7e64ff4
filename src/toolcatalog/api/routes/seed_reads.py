"""The OpsConductor (seed) platform's read routes, in its shapes: list (`tools`, `total`,
`page`, `page_size`), one tool, its versions, search, platform/category/capability lists
and performance stats. Mounted by `seed.mount` (see there for where and why).

Lists are cut from the catalog snapshot the selector reads (in memory, invalidated by every
write on every replica) and each tool on the page comes from the tool cache, so a seed
list costs no database round trip once warm; its encoded answer is kept with the snapshot it
was cut from (`SeedAnswers`), so a repeated list costs a dictionary lookup. Filters mean what
they meant in the seed; parameters it never had are refused with 422
(`refuse_unknown_query`), never ignored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.query_params import refuse_unknown_query
from toolcatalog.api.routes import ops
from toolcatalog.api.routes.capabilities import capability_list_compat
from toolcatalog.api.routes.tools import health
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.seed_answers import SeedAnswers
from toolcatalog.api.seed_shapes import (
    OUR_STATUS,
    SEED_STATUSES,
    seed_capability_tool,
    seed_tool,
    seed_version,
)
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.views import CachedTool
from toolcatalog.errors import NotFound
from toolcatalog.model.tool import Status, Tool


def seed_router(prefix: str = "") -> APIRouter:
    """A router of the seed's contract: hidden from our OpenAPI document (docs/api.md
    describes it), refusing query parameters its routes do not take."""
    return APIRouter(
        prefix=prefix,
        tags=["opsconductor"],
        route_class=ORJSONRoute,
        dependencies=[Depends(refuse_unknown_query)],
        include_in_schema=False,
    )


# Fixed paths and two-segment ones: mounted before our own routes under the same prefix.
router = seed_router()
# GET /{tool_name}: mounted after our fixed one-segment paths (metrics, ...), which it would
# otherwise take.
named = seed_router()

ToolName = Annotated[str, Path(max_length=200)]
SeedStatus = Literal["active", "deprecated", "disabled", "testing", "experimental"]
SEARCH_FIELDS = ("tool_name", "description", "category", "platform")
assert set(SEED_STATUSES) == set(SeedStatus.__args__)  # type: ignore[attr-defined]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _query_problem(name: str, message: str, value: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


async def _all_tools(catalog: ToolCatalogService) -> tuple[Tool, ...]:
    return (await catalog.get_all_tools_with_structure()).tools


async def _cached(catalog: ToolCatalogService, tools: Iterable[Tool]) -> list[CachedTool]:
    """The cache's entries of `tools` (ids, timestamps, revisions); one removed since the
    snapshot was read is left out. One after another: warm, each is a dictionary lookup;
    cold, concurrent loads would take one pooled connection each."""
    found = []
    for tool in tools:
        try:
            found.append(await catalog.get_tool(tool.name))
        except NotFound:
            continue
    return found


async def _seed_tools(catalog: ToolCatalogService, tools: Iterable[Tool]) -> list[dict[str, Any]]:
    return [seed_tool(c) for c in await _cached(catalog, tools)]


router.add_api_route("/health", health, methods=["GET"])


@router.get("")
async def list_tools(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    status: SeedStatus | None = None,
    enabled: bool | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    latest: bool | None = None,
) -> Response:
    """The seed's list: every tool (disabled ones too; `enabled=` filters), by name, in
    offset pages. `name` matches a part of the name, any case; `latest=true` is what every
    list holds (each tool's current revision)."""
    if latest is False:
        raise _query_problem(
            "latest",
            "lists hold each tool's current revision only; earlier revisions are at "
            "/{tool_name}/versions",
            False,
        )
    answers = SeedAnswers.of(request)
    snapshot = await catalog.get_all_tools_with_structure()
    key = ("list", page, page_size, platform, category, status, enabled, name)
    cached = answers.page(snapshot, key)
    if cached is not None:
        return _json(cached)
    wanted_status = OUR_STATUS.get(status, status) if status else None
    needle = name.lower() if name else None
    tools = [
        t
        for t in snapshot.tools
        if (platform is None or t.platform.value == platform)
        and (category is None or t.category == category)
        and (wanted_status is None or t.status.value == wanted_status)
        and (enabled is None or t.enabled is enabled)
        and (needle is None or needle in t.name or needle in (t.display_name or "").lower())
    ]
    start = (page - 1) * page_size
    body = {
        "tools": await _seed_tools(catalog, tools[start : start + page_size]),
        "total": len(tools),
        "page": page,
        "page_size": page_size,
    }
    raw = request.scope["query_string"]
    return _json(answers.keep_page(key, orjson.dumps(body), raw))


STATS_MAX_AGE_S = 1.0


@router.get("/performance/stats")
async def performance_stats(request: Request, runtime: RuntimeDep, caller: ReaderDep) -> Response:
    """The seed's envelope around our figures, with its connection-pool block. Collecting the
    figures reads every metric (~3 ms); a monitor polling faster than once a second gets the
    same answer, at most STATS_MAX_AGE_S old."""
    state = request.app.state
    kept: tuple[float, bytes] | None = getattr(state, "seed_stats", None)
    now = time.monotonic()
    if kept is not None and now - kept[0] < STATS_MAX_AGE_S:
        return _json(kept[1])
    figures = await ops.performance_stats(runtime, caller)
    settings = runtime.settings
    pool = {
        "min_connections": settings.pool_min_size,
        "max_connections": settings.pool_max_size,
        "status": "healthy" if figures["database"]["available"] else "unhealthy",
    }
    body = orjson.dumps(
        {
            "status": "success",
            "timestamp": datetime.now(UTC).isoformat(),
            "performance": {"connection_pool": pool, **figures},
        }
    )
    state.seed_stats = (now, body)
    return _json(body)


@router.get("/search/query")
async def search(
    catalog: CatalogDep,
    _caller: ReaderDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    fields: Annotated[list[Literal[SEARCH_FIELDS]] | None, Query()] = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    """The seed's search: `q` as a part, any case, of any of `fields`."""
    chosen = list(dict.fromkeys(fields or ["tool_name", "description"]))
    needle = q.lower()

    def text(tool: Tool, field: str) -> str:
        if field == "tool_name":
            return f"{tool.name} {tool.display_name or ''}"
        if field == "platform":
            return tool.platform.value
        value: str = getattr(tool, field)
        return value

    hits = [
        t for t in await _all_tools(catalog) if any(needle in text(t, f).lower() for f in chosen)
    ]
    results = await _seed_tools(catalog, hits)
    return {"query": q, "fields": chosen, "results": results, "total": len(results)}


@router.get("/platform/{platform}")
async def by_platform(
    catalog: CatalogDep, _caller: ReaderDep, platform: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    tools = [t for t in await _all_tools(catalog) if t.platform.value == platform]
    found = await _seed_tools(catalog, tools)
    return {"platform": platform, "tools": found, "total": len(found)}


@router.get("/category/{category}")
async def by_category(
    catalog: CatalogDep, _caller: ReaderDep, category: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    tools = [t for t in await _all_tools(catalog) if t.category == category]
    found = await _seed_tools(catalog, tools)
    return {"category": category, "tools": found, "total": len(found)}


router.add_api_route("/capabilities/list", capability_list_compat, methods=["GET"])


@router.get("/capabilities/{capability_name}/tools")
async def by_capability(
    catalog: CatalogDep,
    _caller: ReaderDep,
    capability_name: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    """As the seed: the enabled, active tools offering it, with that capability's patterns
    (an alias names its canonical capability; an unknown name finds none, as the seed)."""
    capability_name = await catalog.canonical_capability(capability_name, strict=False) or (
        capability_name
    )
    tools = [
        t
        for t in await _all_tools(catalog)
        if t.enabled and t.status is Status.active
        and any(c.name == capability_name for c in t.capabilities)
    ]  # fmt: skip
    found = []
    for cached in await _cached(catalog, tools):
        capability = next(c for c in cached.tool.capabilities if c.name == capability_name)
        found.append(seed_capability_tool(cached, capability))
    return {"capability": capability_name, "tools": found, "total": len(found)}


@router.get("/{tool_name}/versions")
async def versions(catalog: CatalogDep, _caller: ReaderDep, tool_name: ToolName) -> dict[str, Any]:
    """Newest first, as the seed listed them; each of our revisions is one entry."""
    found = await catalog.versions(tool_name)
    entries = [
        seed_version(tool_name, v.revision, v.definition, v.created_at, i == len(found) - 1)
        for i, v in enumerate(found)
    ]
    entries.reverse()
    return {"tool_name": tool_name, "versions": entries, "total_versions": len(entries)}


@named.get("/{tool_name}")
async def get_tool(
    request: Request, catalog: CatalogDep, _caller: ReaderDep, tool_name: ToolName
) -> Response:
    cached = await catalog.get_tool(tool_name)
    response = _json(SeedAnswers.of(request).tool(cached))
    response.headers["ETag"] = cached.etag  # for If-Match on PUT, which the seed never sent
    return response
