"""create_app(runtime): the FastAPI application. Routes live in api/routes/, one module per
resource; errors are mapped once in problems.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from toolcatalog.api.docs_pages import install_docs_pages
from toolcatalog.api.middleware import RequestContextMiddleware
from toolcatalog.api.problems import install_problem_handlers
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.routes import (
    capabilities,
    catalog_io,
    history,
    keys,
    ops,
    search,
    select,
    tool,
    tools,
)
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime, open_runtime, toolcatalog_version

DESCRIPTION = """
The catalog of tools an AI operations agent may use, and the Stage B selector that picks
the (tool, capability, pattern) to run for a request. Errors are `application/problem+json`.
"""


def create_app(runtime: Runtime | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The app over an open `runtime` (tests, embedding), or one that opens its own runtime
    from `settings` at start-up and closes it at shutdown (`toolcatalog serve`)."""
    cfg = runtime.settings if runtime is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        async with open_runtime(cfg) as opened:
            app.state.runtime = opened
            yield

    app = FastAPI(
        title="Tool Catalog API",
        version=toolcatalog_version(),
        description=DESCRIPTION,
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs_pages(app)
    if runtime is not None:
        app.state.runtime = runtime
    install_problem_handlers(app)
    # Routes with fixed segments under /api/v1/tools first, `/api/v1/tools/{name}...` last:
    # routes match in this order, and {name} would take `metrics`, `search`, ...
    app.include_router(ops.router)
    app.include_router(tools.router)
    app.include_router(catalog_io.router)
    app.include_router(search.router)
    app.include_router(capabilities.router)
    app.include_router(keys.router)
    app.include_router(history.router)
    app.include_router(select.router)
    app.include_router(tool.router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=cfg.max_body_bytes,
        access_log_enabled=cfg.access_log,
    )
    return app
