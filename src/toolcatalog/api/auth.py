"""Who is calling and what they may do: API keys sent as `Authorization: Bearer <key>` or
`X-API-Key: <key>`, with roles reader < editor < admin.

Reads are open unless TOOLCATALOG_AUTH=required (then they need a reader key); writes need
editor; purge, keys and reload need admin. A key that is sent must be valid even where none
is needed: a typo should fail loudly, not silently act as anonymous. Keys are never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from toolcatalog.api.deps import get_runtime
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.catalog.service import Actor
from toolcatalog.errors import Forbidden, Unauthorized
from toolcatalog.logs import request_id_var

_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`"
)
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="`X-API-Key: <key>`"
)
_HOW = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


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
    """One ApiKeyService per app, over the runtime's database."""
    state = request.app.state
    service: ApiKeyService | None = getattr(state, "api_keys", None)
    if service is None:
        service = ApiKeyService(get_runtime(request).db)
        state.api_keys = service
    return service


def _actor(request: Request, name: str) -> Actor:
    client = request.client.host if request.client else None
    return Actor(name, request_id_var.get(), client)


def require(needed: Role | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers whose role allows `needed` (None: a read, open unless
    TOOLCATALOG_AUTH=required)."""

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key)],
    ) -> Caller:
        secret = bearer.credentials if bearer is not None else api_key
        if secret:
            key = await key_service(request).authenticate(secret)
            caller = Caller(key.name, key.role, _actor(request, key.name))
        else:
            caller = Caller("anonymous", None, _actor(request, "anonymous"))
        if needed is not None:
            caller.require(needed, "this request")
        elif get_runtime(request).settings.auth == "required":
            caller.require(Role.reader, "reading (TOOLCATALOG_AUTH=required)")
        return caller

    return dependency


ReaderDep = Annotated[Caller, Depends(require(None))]
EditorDep = Annotated[Caller, Depends(require(Role.editor))]
AdminDep = Annotated[Caller, Depends(require(Role.admin))]
