"""/api/v1/tools, the collection: health, listing and searching, creating a tool.

One tool by name is in `tool.py`, registered after every fixed path segment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.query_params import refuse_unknown_query
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    BODY_ERRORS,
    ETAG_HEADER,
    READ_ERRORS,
    Timestamp,
    ToolPageOut,
    example,
    problems,
)
from toolcatalog.api.tool_lists import (
    MAX_CURSOR,
    MAX_LIMIT,
    MAX_QUERY,
    TAG_RE,
    ListQuery,
    answer_list,
)
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Platform, Status, Tool
from toolcatalog.selection.process import SelectionProcess

router = APIRouter(prefix="/api/v1/tools", tags=["tools"], route_class=ORJSONRoute)

TOOL_EXAMPLE: dict[str, Any] = Tool.model_json_schema()["examples"][0]


Tag = Annotated[str, Field(pattern=TAG_RE)]


class CacheHealth(BaseModel):
    size: int
    max_size: int
    hits: int
    misses: int
    hit_rate_percent: float


class Health(BaseModel):
    model_config = example(
        status="healthy", service="Tool Catalog API", version="0.1.0", tool_count=203,
        database="connected",
        cache={"size": 180, "max_size": 1000, "hits": 5120, "misses": 203,
               "hit_rate_percent": 96.19},
        semantic_retrieval="ready",
        llm_tie_break="closed",
        selection_process="up (pid 4242)",
        reason=None,
    )  # fmt: skip

    status: Literal["healthy", "degraded", "unhealthy"]
    service: str = "Tool Catalog API"
    version: str
    tool_count: int | None
    database: Literal["connected", "unreachable"]
    cache: CacheHealth
    semantic_retrieval: str = Field(
        description="The selector's embeddings: off, unavailable: why, waiting, loading (being "
        "computed; selection is lexical meanwhile), ready, ready; embedding the names and "
        "description clauses: N of M (selection is hybrid, the names and description clauses "
        "of example-less tools join when all are in), ready; names and description clauses "
        "not embedded: why, or failed: why."
    )
    llm_tie_break: str = Field(
        default="off",
        description="The LLM tie-break: off (no TOOLCATALOG_LLM_URL), closed (asked on ties), "
        "open: why (failed repeatedly; skipped until the cool-down ends), or half_open (the "
        "next tie probes it).",
    )
    selection_process: str = Field(
        default="off",
        description="Where selects rank (TOOLCATALOG_SELECT_PROCESS): off (in this worker), "
        "up (pid N) (in the worker's selection process), starting, or why it is restarting "
        "(selects are refused with 503 meanwhile; the status is then degraded).",
    )
    reason: str | None = None
    invalid_tools: dict[str, str] = Field(
        default_factory=dict,
        description="Stored tools left out of the catalog because their definition no longer "
        "validates (name -> the first problem); the status is then at best degraded.",
    )


def tool_response(
    cached: CachedTool, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The tool's JSON, encoded once when it was cached, with its ETag."""
    return Response(
        cached.body,
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": cached.etag, "Cache-Control": "no-cache", **(headers or {})},
    )


@router.get(
    "/health",
    response_model=Health,
    summary="Service health",
    responses={503: {"model": Health, "description": "Unhealthy"}},
)
async def health(runtime: RuntimeDep) -> ORJSONResponse:
    stats = runtime.catalog.state.tools.stats()
    cache = CacheHealth(
        size=stats.size,
        max_size=stats.max_size,
        hits=stats.hits,
        misses=stats.misses,
        hit_rate_percent=round(stats.hit_rate * 100, 2),
    )
    status: Literal["healthy", "degraded", "unhealthy"]
    database: Literal["connected", "unreachable"]
    # The last known state, probed in the background: answers in ~0.2 s at most, whatever
    # the database does (catalog/health.py).
    known = await runtime.health.current()
    if known is None:  # the first probe has not answered yet
        reachable, count, error = runtime.db.available, None, runtime.db.last_error
    else:
        reachable, count, error = known.reachable, known.tool_count, known.error
    if reachable:
        database, status, reason = "connected", "healthy", None
    else:
        database = "unreachable"
        status = "degraded" if runtime.catalog.state.holds_tools() else "unhealthy"
        reason = f"database unreachable: {error or 'no answer'}; serving reads from memory only"
    invalid = runtime.catalog.invalid.problems()
    if invalid and status == "healthy":
        status = "degraded"
        reason = (
            f"{len(invalid)} stored tool(s) no longer validate and are left out: "
            f"{', '.join(list(invalid)[:10])}; replace (PUT), fix (PATCH) or purge them"
        )
    selection = "off"
    if isinstance(runtime.selector, SelectionProcess):
        selection = runtime.selector.process_status
        if not selection.startswith("up") and status == "healthy":
            status, reason = "degraded", f"selects refused: {selection}"
    body = Health(
        status=status,
        version=runtime.version,
        tool_count=count,
        database=database,
        cache=cache,
        semantic_retrieval=runtime.selector.semantic_status,
        llm_tie_break=runtime.selector.llm_status,
        selection_process=selection,
        reason=reason,
        invalid_tools=dict(list(invalid.items())[:100]),
    )
    return ORJSONResponse(body.model_dump(), status_code=503 if status == "unhealthy" else 200)


@router.get(
    "",
    response_model=ToolPageOut,
    summary="List and search tools",
    description="Filters combine with AND. `q` is a full-text query over names, descriptions, "
    "capabilities and examples, ranked by relevance; without it tools come by name. Pages are "
    "keyset-paginated: pass `next_cursor` back as `cursor` (stable while tools are added). "
    "Query parameters it does not take (the seed's `name`, `latest`, `page`) are refused "
    "with 422, never ignored.",
    responses=problems(*READ_ERRORS),
    dependencies=[Depends(refuse_unknown_query)],
)
async def list_tools(
    catalog: CatalogDep,
    _caller: ReaderDep,
    platform: Platform | None = None,
    category: Annotated[str | None, Query(pattern=SNAKE_RE)] = None,
    status: Status | None = None,
    tag: Annotated[list[Tag] | None, Query(description="Repeatable; all must match.")] = None,
    capability: Annotated[str | None, Query(pattern=SNAKE_RE)] = None,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description="Full-text query.")] = None,
    updated_since: Timestamp | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
    fields: Literal["summary", "full"] = "summary",
) -> Response:
    filters = ToolFilter(
        platform=platform.value if platform else None,
        category=category,
        status=status.value if status else None,
        tags=tuple(tag or ()),
        capability=capability,
        enabled=enabled,
        q=q,
        updated_since=updated_since,
    )
    # The handler the middleware calls for the plain spellings (api/tool_lists.py): joined
    # from each tool's bytes, encoded once when the tool was read.
    body = await answer_list(catalog, ListQuery(filters, limit, cursor, fields))
    return Response(body, media_type="application/json")


@router.post(
    "",
    status_code=201,
    response_model=Tool,
    summary="Create a tool",
    description="Needs an editor key. Answers 201 with the stored definition (defaults filled "
    "in), its `ETag` and `Location`; 409 if a tool of that name exists (use PUT).",
    responses={
        201: {"description": "Created", "headers": ETAG_HEADER},
        **problems(*BODY_ERRORS, 409),
    },
)
async def create_tool(
    catalog: CatalogDep,
    caller: EditorDep,
    tool: Annotated[Tool, Body(openapi_examples={"df": {"value": TOOL_EXAMPLE}})],
) -> Response:
    cached = await catalog.create_tool(tool, actor=caller.actor)
    return tool_response(cached, 201, {"Location": f"/api/v1/tools/{cached.tool.name}"})
