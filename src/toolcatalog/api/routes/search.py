"""Finding tools, on the seed platform's paths: ranked full-text search, and tools by
platform or category. Keyset-paginated like GET /api/v1/tools."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import CatalogDep
from toolcatalog.api.query_params import refuse_unknown_query
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    CURSOR_DESCRIPTION,
    READ_ERRORS,
    SUMMARY_EXAMPLE,
    example,
    problems,
    summarize,
)
from toolcatalog.catalog.views import ToolPage
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.listing import ToolFilter

router = APIRouter(
    prefix="/api/v1/tools",
    tags=["search"],
    route_class=ORJSONRoute,
    dependencies=[Depends(refuse_unknown_query)],
)

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1000, description=CURSOR_DESCRIPTION)]
SearchField = Literal[
    "name", "tool_name", "description", "category", "platform", "tags", "capabilities",
    "examples",
]  # fmt: skip


class SearchOut(BaseModel):
    model_config = example(
        query="disk", fields=[], results=[SUMMARY_EXAMPLE], total=12, next_cursor=None
    )

    query: str
    fields: list[str]
    results: list[dict[str, Any]] = Field(description="ToolSummary objects, best first.")
    total: int
    next_cursor: str | None = Field(description=CURSOR_DESCRIPTION)


@router.get(
    "/search/query",
    summary="Full-text search, ranked and paged (seed-compatible)",
    description="`fields` (repeatable) restricts the search to those fields; by default it "
    "covers names, descriptions, capabilities, tags and examples.",
    response_model=SearchOut,
    responses=problems(*READ_ERRORS),
)
async def search(
    catalog: CatalogDep,
    _caller: ReaderDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    fields: Annotated[list[SearchField] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    chosen = tuple(dict.fromkeys(fields or ()))
    page = await catalog.list_tools(
        ToolFilter(q=q, search_fields=chosen), limit=limit, cursor=cursor
    )
    # A SearchOut, joined from the summaries encoded once per tool.
    return Response(
        orjson.dumps({"query": q, "fields": list(chosen)})[:-1]
        + b',"results":[' + b",".join(i.summary for i in page.items)
        + b'],"total":' + str(page.total).encode()
        + b',"next_cursor":' + orjson.dumps(page.next_cursor) + b"}",
        media_type="application/json",
    )  # fmt: skip


def _summaries(page: ToolPage) -> list[dict[str, Any]]:
    return [summarize(item) for item in page.items]


class PlatformTools(BaseModel):
    model_config = example(platform="linux", tools=[SUMMARY_EXAMPLE], total=88, next_cursor=None)

    platform: str
    tools: list[dict[str, Any]] = Field(description="ToolSummary objects by name.")
    total: int
    next_cursor: str | None = Field(description=CURSOR_DESCRIPTION)


class CategoryTools(BaseModel):
    model_config = example(category="storage", tools=[SUMMARY_EXAMPLE], total=9, next_cursor=None)

    category: str
    tools: list[dict[str, Any]] = Field(description="ToolSummary objects by name.")
    total: int
    next_cursor: str | None = Field(description=CURSOR_DESCRIPTION)


@router.get(
    "/platform/{platform}",
    summary="Tools of one platform (seed-compatible)",
    response_model=PlatformTools,
    responses=problems(*READ_ERRORS),
)
async def by_platform(
    catalog: CatalogDep,
    _caller: ReaderDep,
    platform: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PlatformTools:
    page = await catalog.list_tools(ToolFilter(platform=platform), limit=limit, cursor=cursor)
    return PlatformTools(
        platform=platform, tools=_summaries(page), total=page.total, next_cursor=page.next_cursor
    )


@router.get(
    "/category/{category}",
    summary="Tools of one category (seed-compatible)",
    response_model=CategoryTools,
    responses=problems(*READ_ERRORS),
)
async def by_category(
    catalog: CatalogDep,
    _caller: ReaderDep,
    category: Annotated[str, Path(pattern=SNAKE_RE)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CategoryTools:
    page = await catalog.list_tools(ToolFilter(category=category), limit=limit, cursor=cursor)
    return CategoryTools(
        category=category, tools=_summaries(page), total=page.total, next_cursor=page.next_cursor
    )
