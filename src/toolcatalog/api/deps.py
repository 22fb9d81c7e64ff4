"""Dependencies shared by routes: the runtime and its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# The dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a
# worker thread, a thread hop per request that halved the throughput of cached reads
# (docs/performance.md).
async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)


async def _catalog(request: Request) -> ToolCatalogService:
    return get_runtime(request).catalog


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
CatalogDep = Annotated[ToolCatalogService, Depends(_catalog)]
