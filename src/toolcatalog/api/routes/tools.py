"""/api/v1/tools: health, listing and reading tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.errors import CatalogError, StoreUnavailable
from toolcatalog.model.tool import Platform, Status, Tool
from toolcatalog.store.tool_listing import ToolFilter
from toolcatalog.store.tools import ToolRecord

router = APIRouter(prefix="/api/v1/tools", tags=["tools"])


class CacheHealth(BaseModel):
    size: int
    max_size: int
    hits: int
    misses: int
    hit_rate_percent: float


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    service: str = "Tool Catalog API"
    version: str
    tool_count: int | None
    database: Literal["connected", "unreachable"]
    cache: CacheHealth
    reason: str | None = None


class ToolSummary(BaseModel):
    name: str
    display_name: str | None
    version: str
    description: str
    platform: Platform
    category: str
    tags: list[str]
    status: Status
    enabled: bool
    capabilities: list[str]
    revision: int
    updated_at: datetime


class ToolPageOut(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="ToolSummary objects, or full Tool definitions with fields=full."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
    total: int
    total_estimated: bool = False


def summarize(tool: Tool, record: ToolRecord) -> dict[str, Any]:
    return ToolSummary(
        name=tool.name,
        display_name=tool.display_name,
        version=tool.version,
        description=tool.description,
        platform=tool.platform,
        category=tool.category,
        tags=tool.tags,
        status=tool.status,
        enabled=tool.enabled,
        capabilities=[c.name for c in tool.capabilities],
        revision=record.revision,
        updated_at=record.updated_at,
    ).model_dump(mode="json")


@router.get(
    "/health",
    response_model=Health,
    summary="Service health",
    responses={503: {"model": Health, "description": "Unhealthy"}},
)
async def health(runtime: RuntimeDep) -> ORJSONResponse:
    stats = runtime.catalog.tools.stats()
    cache = CacheHealth(
        size=stats.size,
        max_size=stats.max_size,
        hits=stats.hits,
        misses=stats.misses,
        hit_rate_percent=round(stats.hit_rate * 100, 2),
    )
    try:
        count: int | None = await runtime.catalog.tool_count()
        database, status, reason = "connected", "healthy", None
    except StoreUnavailable as exc:
        count, database = None, "unreachable"
        status = "degraded" if stats.size else "unhealthy"
        reason = f"database unreachable: {exc.detail}; serving cached reads only"
    body = Health(
        status=status,
        version=runtime.version,
        tool_count=count,
        database=database,
        cache=cache,
        reason=reason,
    )
    return ORJSONResponse(body.model_dump(), status_code=503 if status == "unhealthy" else 200)


@router.get("", response_model=ToolPageOut, summary="List and search tools")
async def list_tools(
    catalog: CatalogDep,
    platform: Platform | None = None,
    category: str | None = None,
    status: Status | None = None,
    tag: Annotated[list[str] | None, Query(description="Repeatable; all must match.")] = None,
    capability: str | None = None,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=500, description="Full-text query.")] = None,
    updated_since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    fields: Literal["summary", "full"] = "summary",
) -> ToolPageOut:
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
    page = await catalog.list_tools(filters, limit=limit, cursor=cursor)
    items = [
        summarize(tool, record) if fields == "summary" else record.definition
        for tool, record in page.items
    ]
    return ToolPageOut(items=items, next_cursor=page.next_cursor, total=page.total)


@router.get(
    "/{name}",
    summary="Get one tool",
    response_model=Tool,
    responses={304: {"description": "Not modified (If-None-Match matched)"}},
)
async def get_tool(
    name: str,
    catalog: CatalogDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    stale = False
    try:
        cached = await catalog.get_tool(name)
    except StoreUnavailable:
        fallback = catalog.peek_tool(name)
        if fallback is None:
            raise
        cached, stale = fallback, True
    except CatalogError:
        raise
    headers = {"ETag": cached.etag, "Cache-Control": "no-cache"}
    if stale:
        headers["X-Cache-Stale"] = "true"
        headers["Warning"] = '110 toolcatalog "Response is stale: database unreachable"'
    if if_none_match is not None and cached.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(cached.body, media_type="application/json", headers=headers)
