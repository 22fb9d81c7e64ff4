"""create_app(runtime): the FastAPI application. Routes live in api/routes/, one module per
resource; errors are mapped once in problems.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from toolcatalog.api.auth import document_open_reads
from toolcatalog.api.docs_pages import install_docs_pages
from toolcatalog.api.mcp_endpoint import MCP_PATH, McpEndpoint
from toolcatalog.api.middleware import RequestContextMiddleware, RouteTemplates
from toolcatalog.api.problems import install_problem_handlers
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.routes import (
    analytics,
    capabilities,
    catalog_io,
    environments,
    experiments,
    history,
    keys,
    ops,
    registry,
    search,
    seed,
    select,
    selections,
    telemetry,
    tool,
    tools,
    upstream_import,
)
from toolcatalog.api.seed_answers import SEED_PREFIX, SHARED_PREFIX
from toolcatalog.api.seed_stats import SeedStats
from toolcatalog.config import Settings, toolcatalog_version
from toolcatalog.console import install_console
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.selection.beside import short_switch_interval

log = logging.getLogger(__name__)

DESCRIPTION = """
The catalog of tools an AI operations agent may use, and the Stage B selector that picks
the (tool, capability, pattern) to run for a request. Errors are `application/problem+json`.
"""


def create_app(runtime: Runtime | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The app over an open `runtime` (tests, embedding), or one that opens its own runtime
    from `settings` at start-up and closes it at shutdown (`toolcatalog serve`)."""
    cfg = runtime.settings if runtime is not None else (settings or Settings())
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _warm_routing(app)
        try:
            with short_switch_interval():
                if runtime is not None:
                    app.state.runtime = runtime
                    async with mcp.run(runtime):
                        yield
                    return
                async with (
                    open_runtime(cfg, select_process=cfg.selects_in_a_process()) as opened,
                    mcp.run(opened),
                ):
                    app.state.runtime = opened
                    yield
        finally:
            SeedStats.of_state(app.state).stop()

    app = FastAPI(
        title="Tool Catalog API",
        version=toolcatalog_version(),
        description=DESCRIPTION,
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by install_docs_pages, behind TOOLCATALOG_OPEN_DOCS
    )
    install_docs_pages(app)
    if runtime is not None:
        app.state.runtime = runtime
    install_problem_handlers(app)
    _include_routes(app, cfg)
    install_console(app)
    # An ASGI app (not a function) as endpoint: Starlette hands it the raw request, every method.
    # First in the list: routes are tried in order, and matching the ~25 before it cost
    # /mcp about 0.15 ms a request (profiled, bench/mcp_select.py).
    app.router.routes.insert(0, Route(MCP_PATH, mcp, include_in_schema=False))
    document_open_reads(app, cfg.auth)
    _warn_about(cfg)
    app.add_middleware(registry.RegistryCors)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=cfg.max_body_bytes,
        access_log_enabled=cfg.access_log,
        templates=RouteTemplates(lambda: app.openapi()["paths"].keys()),
    )
    return app


def _include_routes(app: FastAPI, cfg: Settings) -> None:
    # Routes with fixed segments under /api/v1/tools first, `/api/v1/tools/{name}...` last:
    # routes match in this order, and {name} would take `metrics`, `search`, ... The seed's
    # contract interleaves with ours when it shares the prefix (api/routes/seed.py).
    native_fixed = [
        ops.router, tools.router, catalog_io.router, upstream_import.router, search.router,
        capabilities.router, keys.router, history.router, select.router, selections.router,
        experiments.router, environments.router, telemetry.router, analytics.router,
    ]  # fmt: skip
    if cfg.opsconductor_api:
        seed.include(app, seed.fixed_routers(), SHARED_PREFIX)
    for router in native_fixed:
        app.include_router(router)
    if cfg.opsconductor_api:
        seed.include(app, seed.named_routers(), SHARED_PREFIX)
    app.include_router(tool.router)
    app.include_router(registry.router)
    seed.include(app, seed.fixed_routers() + seed.named_routers(), SEED_PREFIX)
    if cfg.opsconductor_api:
        for router in [*native_fixed, tool.router]:
            app.include_router(router, prefix=seed.NATIVE_PREFIX, include_in_schema=False)


def _warn_about(cfg: Settings) -> None:
    if cfg.dev_keyless_loopback_writes:
        log.warning(
            "TOOLCATALOG_DEV_KEYLESS_LOOPBACK_WRITES is on: requests from this machine without "
            "an API key may change the catalog (as admin, except key management). "
            "Development only; never behind a reverse proxy on this host."
        )
    if cfg.opsconductor_api:
        log.info(
            "TOOLCATALOG_OPSCONDUCTOR_API is on: /api/v1/tools answers the OpsConductor "
            "contract; ours is also at /native/api/v1/tools"
        )


async def _warm_routing(app: FastAPI) -> None:
    """Walk every route once before the first request: FastAPI builds each included
    router's matching tables on first use, and the first request to reach the last ones
    (`/api/v1/tools/{name}`) paid ~250-430 ms for it (bench/seed_load.py's slowest request).
    A path that matches nothing walks them all and answers 404 to nobody."""
    scope: dict[str, Any] = {
        "type": "http", "method": "GET", "path": "/-warm-up-", "raw_path": b"/-warm-up-",
        "root_path": "", "query_string": b"", "headers": [], "scheme": "http",
        "http_version": "1.1", "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    await app.router(scope, receive, send)
