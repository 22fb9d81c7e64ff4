"""The OpsConductor (seed) platform's read routes, in its shapes: list (`tools`, `total`,
`page`, `page_size`), one tool, its versions, search, platform/category/capability lists
and performance stats. Mounted by `seed.mount` (see there for where and why).

Lists are cut from the catalog snapshot the selector reads (in memory, invalidated by every
write on every replica) and each tool on the page comes from the tool cache, so a seed
list costs no database round trip once warm; each tool's seed shape is encoded once and an
answer is those bytes joined, kept with the snapshot it was cut from (`SeedAnswers`), so a
repeated list costs a dictionary lookup. The list and the get are answered by the same
handler in the middleware too (`seed_answers.serve_seed`), without FastAPI, when their query
is plain and their tools are in memory. Filters mean what they meant in the seed; parameters
it never had are refused with 422 (`refuse_unknown_query`), never ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.query_params import refuse_unknown_query
from toolcatalog.api.routes.capabilities import capability_list_compat
from toolcatalog.api.routes.tools import health
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.seed_answers import (
    FILTER_MAX,
    NAME_COLUMNS,
    NAME_MAX,
    PAGE_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    SeedAnswers,
    SeedListQuery,
)
from toolcatalog.api.seed_shapes import SEED_STATUSES, seed_capability_tool, seed_version
from toolcatalog.api.seed_stats import SeedStats
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.views import CachedTool
from toolcatalog.errors import NotFound
from toolcatalog.model.tool import Status


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

ToolName = Annotated[str, Path(max_length=NAME_MAX)]
SeedStatus = Literal["active", "deprecated", "disabled", "testing", "experimental"]
SEARCH_FIELDS = ("tool_name", "description", "category", "platform")
assert set(SEED_STATUSES) == set(SeedStatus.__args__)  # type: ignore[attr-defined]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _query_problem(name: str, message: str, value: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


async def _cached(catalog: ToolCatalogService, names: Iterable[str]) -> list[CachedTool]:
    """The cache's entries of the tools `names`; one removed since the version was read is
    left out. One after another: warm, each is a dictionary lookup; cold, concurrent loads
    would take one pooled connection each."""
    found = []
    for name in names:
        try:
            found.append(await catalog.get_tool(name))
        except NotFound:
            continue
    return found


router.add_api_route("/health", health, methods=["GET"])


@router.get("")
async def list_tools(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    page: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_DEFAULT,
    platform: Annotated[str | None, Query(max_length=FILTER_MAX)] = None,
    category: Annotated[str | None, Query(max_length=FILTER_MAX)] = None,
    status: SeedStatus | None = None,
    enabled: bool | None = None,
    name: Annotated[str | None, Query(max_length=NAME_MAX, description="Part of the name.")] = None,
    latest: bool | None = None,
) -> Response:
    """The seed's list: every tool (disabled ones too; `enabled=` filters), by name, in
    offset pages. `name` matches a part of the name, any case; `latest=true` is what every
    list holds (each tool's current revision). Answered by `SeedAnswers.list_page`, which
    the middleware calls too for the plain spellings of these parameters."""
    if latest is False:
        raise _query_problem(
            "latest",
            "lists hold each tool's current revision only; earlier revisions are at "
            "/{tool_name}/versions",
            False,
        )
    query = SeedListQuery(page, page_size, platform, category, status, enabled, name or None)
    answers = SeedAnswers.of(request)
    version = await catalog.catalog_version()
    if query.name:
        await catalog.with_columns(version, NAME_COLUMNS)
    body = answers.list_page(version, query, catalog.state.held_tool)
    if body is None:  # a tool on the page is not in memory: load them, then answer
        loaded = {
            c.tool.name: c for c in await _cached(catalog, answers.page_names(version, query))
        }
        body = answers.list_page(version, query, loaded.get, skip_missing=True)
    assert body is not None
    return _json(body)


@router.get("/performance/stats")
async def performance_stats(request: Request, runtime: RuntimeDep, _caller: ReaderDep) -> Response:
    """The seed's envelope around our figures, with its connection-pool block, at most 1 s
    old (api/seed_stats.py keeps it fresh while it is polled)."""
    return _json(SeedStats.of_state(request.app.state).answer(runtime))


@router.get("/search/query")
async def search(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    fields: Annotated[list[Literal[SEARCH_FIELDS]] | None, Query()] = None,  # type: ignore[valid-type]
) -> Response:
    """The seed's search: `q` as a part, any case, of any of `fields`."""
    chosen = list(dict.fromkeys(fields or ["tool_name", "description"]))
    version = await catalog.catalog_version()
    answers = SeedAnswers.of(request)
    key = ("search", q, tuple(chosen))
    body = answers.kept(version.snapshot, key)
    if body is None:
        # The fields' texts made once a version (beside the loop), then one C scan each: a
        # walk of every tool per distinct `q` was ~70 ms of the loop at 100,000 tools.
        await catalog.with_columns(version, chosen)
        hits = version.names_containing(q.lower(), chosen)
        results = answers.joined(await _cached(catalog, hits))
        answer = {"query": q, "fields": chosen, "results": results, "total": len(results)}
        body = answers.keep(key, orjson.dumps(answer))
    return _json(body)


async def _tools_where(
    request: Request, catalog: ToolCatalogService, field: str, value: str
) -> Response:
    """The seed's tools-by-platform and tools-by-category answers: the filter index's list
    of the value (a walk of every tool per distinct value before)."""
    version = await catalog.catalog_version()
    answers = SeedAnswers.of(request)
    body = answers.kept(version.snapshot, (field, value))
    if body is None:
        found = answers.joined(await _cached(catalog, version.names_with(field, value)))
        answer = {field: value, "tools": found, "total": len(found)}
        body = answers.keep((field, value), orjson.dumps(answer))
    return _json(body)


@router.get("/platform/{platform}")
async def by_platform(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    platform: Annotated[str, Path(max_length=FILTER_MAX)],
) -> Response:
    return await _tools_where(request, catalog, "platform", platform)


@router.get("/category/{category}")
async def by_category(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    category: Annotated[str, Path(max_length=FILTER_MAX)],
) -> Response:
    return await _tools_where(request, catalog, "category", category)


router.add_api_route("/capabilities/list", capability_list_compat, methods=["GET"])


@router.get("/capabilities/{capability_name}/tools")
async def by_capability(
    request: Request,
    catalog: CatalogDep,
    _caller: ReaderDep,
    capability_name: Annotated[str, Path(max_length=FILTER_MAX)],
) -> Response:
    """As the seed: the enabled, active tools offering it, with that capability's patterns
    (an alias names its canonical capability; an unknown name finds none, as the seed)."""
    version = await catalog.catalog_version()
    answers = SeedAnswers.of(request)
    key = ("capability", capability_name)
    body = answers.kept(version.snapshot, key)
    if body is None:
        name = await catalog.canonical_capability(capability_name, strict=False)
        name = name or capability_name
        # The filter index's list of the capability (a walk of every tool per distinct name
        # before), its enabled, active tools.
        tools = [
            n
            for n in version.names_with("capability", name)
            if (t := version.entries[n].tool).enabled and t.status is Status.active
        ]
        found = []
        for cached in await _cached(catalog, tools):
            capability = next(c for c in cached.tool.capabilities if c.name == name)
            found.append(seed_capability_tool(cached, capability))
        answer = {"capability": name, "tools": found, "total": len(found)}
        body = answers.keep(key, orjson.dumps(answer))
    return _json(body)


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
