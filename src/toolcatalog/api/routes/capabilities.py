"""Capabilities across the catalog: every capability name with the tools that offer it.

Served from the catalog version in memory, so these reads do not touch the database: the index
is made once a version from the filter index (filter_index.py) and encoded once a snapshot
(kept by SeedAnswers), so a read costs a lookup, not a walk of every tool (~50 ms at 20,000
tools before). The seed's paths under
/api/v1/tools are kept alongside."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import CatalogDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    CURSOR_DESCRIPTION,
    READ_ERRORS,
    SUMMARY_EXAMPLE,
    example,
    problems,
    summarize,
)
from toolcatalog.api.seed_answers import SeedAnswers
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.listing import ToolFilter

router = APIRouter(prefix="/api/v1", tags=["capabilities"], route_class=ORJSONRoute)

CapabilityName = Annotated[str, Path(pattern=SNAKE_RE, description="A capability name.")]


class CapabilityEntry(BaseModel):
    capability_name: str
    tool_count: int
    tools: list[str] = Field(description="Names of the tools offering it, by name.")


class CapabilityIndex(BaseModel):
    model_config = example(
        capabilities=[{"capability_name": "disk_usage", "tool_count": 2, "tools": ["df", "du"]}],
        total=1,
    )

    capabilities: list[CapabilityEntry]
    total: int


class CapabilityTools(BaseModel):
    model_config = example(
        capability="disk_usage", tools=[SUMMARY_EXAMPLE], total=2, next_cursor=None
    )

    capability: str
    tools: list[dict[str, Any]] = Field(description="ToolSummary objects, by name.")
    total: int
    next_cursor: str | None = Field(description=CURSOR_DESCRIPTION)


async def _index(request: Request, catalog: CatalogDep, *, listed: bool) -> Response:
    """The capability index encoded once a catalog snapshot (`SeedAnswers` keeps it while the
    snapshot is current): as the seed's list (`listed`) or in our wrapper."""
    snapshot = await catalog.get_all_tools_with_structure()
    answers = SeedAnswers.of(request)
    key = ("capability index", listed)
    body = answers.kept(snapshot, key)
    if body is None:
        entries = [
            {"capability_name": name, "tool_count": len(tools), "tools": tools}
            for name, tools in (await catalog.capability_index()).items()
        ]
        answer = entries if listed else {"capabilities": entries, "total": len(entries)}
        body = answers.keep(key, orjson.dumps(answer))
    return Response(body, media_type="application/json")


async def _tools(catalog: CatalogDep, name: str, limit: int, cursor: str | None) -> Any:
    # An alias names its canonical capability; an unknown name is a 422 naming the closest.
    name = await catalog.canonical_capability(name) or name
    page = await catalog.list_tools(ToolFilter(capability=name), limit=limit, cursor=cursor)
    return CapabilityTools(
        capability=name,
        tools=[summarize(item) for item in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1000, description=CURSOR_DESCRIPTION)]


@router.get(
    "/capabilities",
    summary="Every capability with the tools that offer it",
    response_model=CapabilityIndex,
    responses=problems(*READ_ERRORS),
)
async def capability_index(request: Request, catalog: CatalogDep, _caller: ReaderDep) -> Any:
    return await _index(request, catalog, listed=False)


@router.get(
    "/capabilities/{name}/tools",
    summary="The tools offering one capability",
    response_model=CapabilityTools,
    responses=problems(*READ_ERRORS),
)
async def capability_tools(
    name: CapabilityName,
    catalog: CatalogDep,
    _caller: ReaderDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    return await _tools(catalog, name, limit, cursor)


@router.get(
    "/tools/capabilities/list",
    summary="Every capability with its tools (seed-compatible)",
    response_model=list[CapabilityEntry],
    responses=problems(*READ_ERRORS),
)
async def capability_list_compat(request: Request, catalog: CatalogDep, _caller: ReaderDep) -> Any:
    return await _index(request, catalog, listed=True)


@router.get(
    "/tools/capabilities/{name}/tools",
    summary="The tools offering one capability (seed-compatible)",
    response_model=CapabilityTools,
    responses=problems(*READ_ERRORS),
)
async def capability_tools_compat(
    name: CapabilityName,
    catalog: CatalogDep,
    _caller: ReaderDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    return await _tools(catalog, name, limit, cursor)
