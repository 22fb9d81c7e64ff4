"""/api/v1/keys: API keys, for admins. A new key's secret is in the creation answer only;
the server keeps its SHA-256 hash. Each change is audited (`key_create`, `key_revoke`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.api.auth import KeyAdminDep, key_service
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, example, problems
from toolcatalog.catalog.keys import ApiKey, Role

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], route_class=ORJSONRoute)

KEY_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=KEY_NAME_RE, description="Unique; e.g. `ci-bot`.")]
    role: Role = Role.reader


class KeyOut(BaseModel):
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None


_KEY = {
    "name": "ci-bot",
    "role": "editor",
    "prefix": "tck_Xq3v9sLk",
    "created_at": "2025-01-31T12:00:00Z",
    "last_used_at": None,
    "revoked_at": None,
}


class KeyCreated(KeyOut):
    model_config = example(**_KEY, key="tck_Xq3v9sLkT0b2wRr4mZ8nY1cJ5dF7gH6eK2pA9uV3xW0")

    key: str = Field(description="The secret. Shown only here; store it now.")


class KeyList(BaseModel):
    model_config = example(keys=[_KEY])

    keys: list[KeyOut]


def _out(key: ApiKey) -> KeyOut:
    return KeyOut(
        name=key.name,
        role=key.role,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get(
    "",
    summary="List API keys (admin)",
    response_model=KeyList,
    responses=problems(401, 403, 503),
)
async def list_keys(request: Request, _caller: KeyAdminDep) -> KeyList:
    return KeyList(keys=[_out(k) for k in await key_service(request).list_keys()])


@router.post(
    "",
    status_code=201,
    summary="Create an API key (admin)",
    response_model=KeyCreated,
    responses=problems(*BODY_ERRORS, 409),
)
async def create_key(
    request: Request,
    response: Response,
    caller: KeyAdminDep,
    body: Annotated[
        KeyIn, Body(openapi_examples={"ci": {"value": {"name": "ci-bot", "role": "editor"}}})
    ],
) -> KeyCreated:
    created = await key_service(request).create(body.name, body.role, actor=caller.actor)
    response.headers["Cache-Control"] = "no-store"
    return KeyCreated(**_out(created.key).model_dump(), key=created.secret)


@router.delete(
    "/{name}",
    status_code=204,
    summary="Revoke an API key (admin)",
    description="It stops working at once. Its name stays taken.",
    responses={204: {"description": "Revoked"}, **problems(401, 403, 404, 422, 503)},
)
async def revoke_key(
    request: Request,
    caller: KeyAdminDep,
    name: Annotated[str, Path(pattern=KEY_NAME_RE)],
) -> Response:
    await key_service(request).revoke(name, actor=caller.actor)
    return Response(status_code=204)
