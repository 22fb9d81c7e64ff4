"""Swagger UI at /docs and ReDoc at /redoc with their scripts served by the service itself, so
the API documentation works with no network (FastAPI's defaults load them from a CDN).

The assets come from the `fastapi-offline` package (swagger-ui-dist and redoc bundles); only its
static files are used, the pages are FastAPI's own."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, JSONResponse

from toolcatalog.api.auth import DocsReader

ASSETS_URL = "/docs/assets"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def install_docs_pages(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve /docs, /docs/oauth2-redirect, /redoc and their assets from this process.
    The app must be created with `docs_url=None, redoc_url=None, openapi_url=None`: the
    OpenAPI document is served here (at /openapi.json), and like the pages it needs a key
    with TOOLCATALOG_AUTH=required unless TOOLCATALOG_OPEN_DOCS is true (the default)."""
    openapi_url = "/openapi.json"
    redirect_url = f"{docs_url}/oauth2-redirect"
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get(openapi_url, include_in_schema=False, dependencies=[DocsReader])
    async def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(docs_url, include_in_schema=False, dependencies=[DocsReader])
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False, dependencies=[DocsReader])
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
