"""Capabilities across the catalog: every capability name with the tools that offer it.

Served from the catalog version in memory, so these reads do not touch the database: the index
is made once a version from the filter index (filter_index.py) and encoded once, so a read costs
a lookup, not a walk of every tool (~50 ms at 20,000 tools before). The seed's paths under
/api/v1/tools are kept alongside."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response
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


class _Encoded:
    """The two answers of the last capability index asked for, encoded once. The index is one
    dict a catalog version (`CatalogVersion.capability_index`), held here with its answers, so
    its identity says whether they are still the catalog's."""

    __slots__ = ("index", "listed", "wrapped")

    def __init__(self) -> None:
        self.index: dict[str, tuple[str, ...]] | None = None
        self.listed = b"[]"
        self.wrapped = b""

    def of(self, index: dict[str, tuple[str, ...]]) -> _Encoded:
        if index is not self.index:
            entries = [
                {"capability_name": name, "tool_count": len(tools), "tools": tools}
                for name, tools in index.items()
            ]
            self.listed = orjson.dumps(entries)
            self.wrapped = orjson.dumps({"capabilities": entries, "total": len(entries)})
            self.index = index
        return self


_encoded = _Encoded()


async def _index(catalog: CatalogDep) -> _Encoded:
    return _encoded.of(await catalog.capability_index())


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
async def capability_index(catalog: CatalogDep, _caller: ReaderDep) -> Any:
    return Response((await _index(catalog)).wrapped, media_type="application/json")


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
async def capability_list_compat(catalog: CatalogDep, _caller: ReaderDep) -> Any:
    return Response((await _index(catalog)).listed, media_type="application/json")


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
