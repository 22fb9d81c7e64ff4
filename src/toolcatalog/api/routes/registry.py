"""The MCP Registry v0.1 read API over the MCP servers the catalog knows (the servers its tools
were imported from), shaped as the official registry's OpenAPI says, so MCP clients that
accept a private registry can point at the service. CORS is open on these routes (browser-
based clients read registries from other origins: RegistryCors); the answers hold no
secrets."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolcatalog.api.auth import ReaderDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.schemas import problems
from toolcatalog.catalog.registry import RegistryServer
from toolcatalog.errors import InvalidDefinition, NotFound, Problem
from toolcatalog.runtime import Runtime

PREFIX = "/v0.1"
router = APIRouter(prefix=PREFIX, tags=["mcp registry"])

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, X-API-Key, Content-Type",
    "Access-Control-Max-Age": "600",
}
LIMIT_DEFAULT, LIMIT_MAX = 30, 100


class ServerResponse(BaseModel):
    """`server` (ServerDetail: name, description, title, version, remotes or packages) and
    `_meta` (io.modelcontextprotocol.registry/official: status, publishedAt, updatedAt,
    isLatest), as the official registry answers."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    server: dict[str, Any]
    meta: dict[str, Any] = Field(alias="_meta")


class ListMetadata(BaseModel):
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null: done.")
    count: int = Field(description="Servers on this page.")


class ServerList(BaseModel):
    servers: list[ServerResponse]
    metadata: ListMetadata


def _answer(data: Any) -> ORJSONResponse:
    return ORJSONResponse(data)


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(f"after:{name}".encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("after:"):
        raise InvalidDefinition(
            "the cursor was not made by this registry",
            [Problem("cursor", "pass metadata.nextCursor of the previous page as it was")],
        )
    return text[len("after:") :]


class RegistryCors:
    """CORS for /v0.1 only, errors included (a browser reads a 404 body only with the header):
    answers preflights itself (before any key check, as browsers send none) and adds the
    headers to every answer under the prefix."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in CORS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await Response(status_code=204, headers=CORS)(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in self.extra if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_cors)


@router.get(
    "/servers",
    summary="List MCP servers",
    description="The MCP servers the catalog's tools were imported from (`toolcatalog import "
    "--format mcp`), one version each (the one last imported), by name. `search`: a "
    "substring of the name; `updated_since`: RFC 3339; `version`: `latest` or an exact "
    "version.",
    response_model=ServerList,
    responses=problems(401, 403, 422, 503),
)
async def list_servers(
    runtime: RuntimeDep,
    _caller: ReaderDep,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = LIMIT_DEFAULT,
    search: Annotated[str | None, Query(max_length=200)] = None,
    updated_since: datetime | None = None,
    version: Annotated[str | None, Query(max_length=255)] = None,
) -> ORJSONResponse:
    servers = await runtime.catalog.mcp_servers(runtime.settings.registry_namespace)
    after = _after(cursor) if cursor else None
    if updated_since is not None and updated_since.tzinfo is None:
        raise InvalidDefinition(
            "updated_since needs a time zone",
            [Problem("updated_since", "RFC 3339, e.g. 2025-08-07T13:15:04Z")],
        )
    wanted = [
        s
        for s in servers
        if (after is None or s.name > after)
        and (not search or search.lower() in s.name.lower())
        and (updated_since is None or s.updated_at > updated_since)
        and (version in (None, "latest") or s.version == version)
    ]
    page = wanted[:limit]
    more = len(wanted) > limit
    return _answer(
        {
            "servers": [s.body for s in page],
            "metadata": {
                "nextCursor": _cursor(page[-1].name) if more else None,
                "count": len(page),
            },
        }
    )


async def _server(runtime: Runtime, name: str) -> RegistryServer:
    servers = await runtime.catalog.mcp_servers(runtime.settings.registry_namespace)
    found: RegistryServer | None = next((s for s in servers if s.name == name), None)
    if found is None:
        raise NotFound(f"no MCP server named {name!r} in this registry")
    return found


@router.get(
    "/servers/{server_name:path}/versions/{version}",
    summary="Get one version of an MCP server (`latest` for the latest)",
    response_model=ServerResponse,
    responses=problems(401, 403, 404, 503),
)
async def server_version(
    runtime: RuntimeDep, _caller: ReaderDep, server_name: str, version: str
) -> ORJSONResponse:
    server = await _server(runtime, server_name)
    if version not in ("latest", server.version):
        raise NotFound(
            f"{server_name} has version {server.version} here (the one last imported), "
            f"not {version!r}"
        )
    return _answer(server.body)


@router.get(
    "/servers/{server_name:path}/versions",
    summary="List the versions of an MCP server",
    description="The catalog keeps the version last imported, so one.",
    response_model=ServerList,
    responses=problems(401, 403, 404, 503),
)
async def server_versions(
    runtime: RuntimeDep, _caller: ReaderDep, server_name: str
) -> ORJSONResponse:
    server = await _server(runtime, server_name)
    return _answer({"servers": [server.body], "metadata": {"nextCursor": None, "count": 1}})
