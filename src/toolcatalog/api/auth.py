"""Who is calling and what they may do: API keys sent as `Authorization: Bearer <key>` or
`X-API-Key: <key>`, with roles reader < editor < admin.

Reads are open unless TOOLCATALOG_AUTH=required (then they need a reader key); writes need
editor; purge, keys and reload need admin. A key that is sent must be valid even where none
is needed: a typo should fail loudly, not silently act as anonymous. Keys are never logged.

TOOLCATALOG_DEV_KEYLESS_LOOPBACK_WRITES (development only, warned at start-up) lets a caller
without a key on the loopback interface act as admin, so clients that know no keys (the seed
platform's) can write to a local server; never for key management, and never for a request
that went through a proxy (a proxy on the same host would make every caller look local).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from toolcatalog.api.deps import get_runtime
from toolcatalog.api.routing import OPEN_READ
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import Forbidden, Unauthorized
from toolcatalog.logs import request_id_var

_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`"
)
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="`X-API-Key: <key>`"
)
_HOW = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
# Headers a reverse proxy adds: behind one, the peer address is the proxy's, not the caller's.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
KEYLESS_DEV_NAME = "keyless-loopback-dev"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller (or anonymous) and the audit actor their writes record."""

    name: str
    role: Role | None
    actor: Actor

    def require(self, needed: Role, what: str) -> None:
        """Raise Unauthorized or Forbidden unless this caller's role allows `needed`."""
        if self.role is None:
            raise Unauthorized(f"{what} needs an API key with role {needed} or higher; {_HOW}")
        if not self.role.allows(needed):
            raise Forbidden(
                f"{what} needs role {needed}; the key {self.name!r} has role {self.role}"
            )


def key_service(request: Request) -> ApiKeyService:
    """The runtime's ApiKeyService (its change listener makes it forget revoked keys)."""
    return get_runtime(request).keys


def _actor(request: Request, name: str) -> Actor:
    client = request.client.host if request.client else None
    return Actor(name, request_id_var.get(), client)


def _keyless_dev(request: Request) -> bool:
    """A request without a key that TOOLCATALOG_DEV_KEYLESS_LOOPBACK_WRITES admits."""
    if not get_runtime(request).settings.dev_keyless_loopback_writes:
        return False
    if request.client is None or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool((mapped or address).is_loopback)


def require(
    needed: Role | None, *, keyless_dev: bool = True, open_when: str | None = None
) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers whose role allows `needed` (None: a read, open unless
    TOOLCATALOG_AUTH=required, or unless the boolean setting `open_when` keeps it open).
    `keyless_dev=False`: the development setting never admits."""

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key)],
    ) -> Caller:
        secret = bearer.credentials if bearer is not None else api_key
        if secret:
            key = await key_service(request).authenticate(secret)
            caller = Caller(key.name, key.role, _actor(request, key.name))
        elif keyless_dev and _keyless_dev(request):
            name = KEYLESS_DEV_NAME
            caller = Caller(name, Role.admin, _actor(request, name))
        else:
            caller = Caller("anonymous", None, _actor(request, "anonymous"))
        if needed is not None:
            caller.require(needed, "this request")
        elif (settings := get_runtime(request).settings).auth == "required" and not (
            open_when is not None and getattr(settings, open_when)
        ):
            caller.require(Role.reader, "reading (TOOLCATALOG_AUTH=required)")
        return caller

    setattr(dependency, OPEN_READ, needed is None)
    return dependency


def document_open_reads(app: FastAPI, auth: str) -> None:
    """Make the OpenAPI document say what the server does: a read takes a key but does not
    need one (an empty requirement `{}` among the alternatives), unless
    TOOLCATALOG_AUTH=required. FastAPI declares every route with a security dependency as
    needing it, and schemathesis then reported each open read as "ignored auth". The routes
    mark their operations (routing.py, OPEN_READ); the mark is removed here."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        spec = build()
        if fresh:
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    open_read = operation.pop(OPEN_READ, False)
                    security = operation.get("security")
                    if open_read and auth != "required" and security and {} not in security:
                        security.append({})
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


reader = require(None)
ReaderDep = Annotated[Caller, Depends(reader)]


async def reader_of(request: Request) -> Caller:
    """The `ReaderDep` caller of `request` without FastAPI's dependency injection (for the
    middleware's early paths): the same dependency, given the credentials it declares."""
    return await reader(request, await _bearer(request), await _api_key(request))


async def editor_of(request: Request) -> Caller:
    """The `EditorDep` caller of `request`, as `reader_of` gives the reader's."""
    return await editor(request, await _bearer(request), await _api_key(request))


# Open with TOOLCATALOG_AUTH=required while TOOLCATALOG_OPEN_METRICS / _OPEN_DOCS are true.
MetricsReaderDep = Annotated[Caller, Depends(require(None, open_when="open_metrics"))]
DocsReader = Depends(require(None, open_when="open_docs"))
editor = require(Role.editor)
EditorDep = Annotated[Caller, Depends(editor)]
# Reporting outcomes (telemetry, feedback on selections): reporter keys, editors and admins.
ReporterDep = Annotated[Caller, Depends(require(Role.reporter))]
AdminDep = Annotated[Caller, Depends(require(Role.admin))]
# Managing keys always needs a real admin key, whatever the development setting says.
KeyAdminDep = Annotated[Caller, Depends(require(Role.admin, keyless_dev=False))]

_read = require(None)


async def authorize_read(request: Request) -> Caller:
    """`require(None)` for a request that reaches no FastAPI route (the MCP endpoint): the
    same keys, the same TOOLCATALOG_AUTH rule, the same errors."""
    return await _read(request, await _bearer(request), await _api_key(request))
