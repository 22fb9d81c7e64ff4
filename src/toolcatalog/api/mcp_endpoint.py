"""/mcp: the catalog's MCP server (toolcatalog/mcp/) over Streamable HTTP, on the API's port
and behind its API keys (a read: open unless TOOLCATALOG_AUTH=required, and a key that is
sent must be valid). The app's lifespan starts it (`run`) once the runtime is open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from toolcatalog.api.auth import authorize_read
from toolcatalog.errors import StoreUnavailable
from toolcatalog.mcp.server import build_mcp_server
from toolcatalog.runtime import Runtime

MCP_PATH = "/mcp"


class McpEndpoint:
    """The ASGI app routed at /mcp: checks the caller's key, then hands the request to the
    SDK's Streamable HTTP app. Stateless with JSON answers: no session lives in one replica,
    so any replica behind a load balancer can answer any request."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def run(self, runtime: Runtime) -> AsyncIterator[None]:
        server = await build_mcp_server(runtime)
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=runtime.settings.max_body_bytes,
            # The service's own keys guard it, and it serves any host name it is reached by
            # (as the rest of the API does); the SDK's localhost-only check would refuse those.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await authorize_read(Request(scope, receive))
        if self._app is None:
            raise StoreUnavailable("the MCP endpoint is not started yet; retry in a moment")
        await self._app(scope, receive, send)
