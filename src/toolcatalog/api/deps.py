"""Dependencies shared by routes: the runtime and its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_catalog(request: Request) -> ToolCatalogService:
    return get_runtime(request).catalog


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CatalogDep = Annotated[ToolCatalogService, Depends(get_catalog)]
