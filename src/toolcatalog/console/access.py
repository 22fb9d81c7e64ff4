"""Signing in and out with an API key, and (for admins) creating and revoking keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from toolcatalog.catalog.keys import Role
from toolcatalog.console.rendering import ConsoleRoute, render
from toolcatalog.console.session import (
    Visitor,
    field,
    form_fields,
    reader,
    runtime_of,
    sign_in,
    sign_out,
    visitor,
)
from toolcatalog.errors import InvalidDefinition, Problem, Unauthorized

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Anyone = Annotated[Visitor, Depends(visitor)]
Reader = Annotated[Visitor, Depends(reader)]


def _next_page(value: str) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/tools"


@router.get("/login")
async def login_page(request: Request, who: Anyone) -> Response:
    return render(
        request,
        "login.html",
        {"who": who, "error": None, "next": _next_page(request.query_params.get("next", ""))},
    )


@router.post("/login")
async def login(request: Request, who: Anyone) -> Response:
    fields = await form_fields(request, who)
    secret = fields.get("key", "").strip()
    goto = _next_page(fields.get("next", ""))
    try:
        await runtime_of(request).keys.authenticate(secret)
    except Unauthorized as exc:
        context = {"who": who, "error": exc.detail, "next": goto}
        return render(request, "login.html", context, status=401)
    response = RedirectResponse(goto, status_code=303)
    sign_in(request, response, secret)
    return response


@router.post("/logout")
async def logout(request: Request, who: Anyone) -> Response:
    await form_fields(request, who)
    response = RedirectResponse("/ui/tools", status_code=303)
    sign_out(request, response)
    return response


async def _keys_page(
    request: Request, who: Visitor, *, created: str | None = None, status: int = 200
) -> Response:
    keys = await runtime_of(request).keys.list_keys()
    context = {"who": who, "keys": keys, "created": created, "roles": [r.value for r in Role]}
    return render(request, "keys.html", context, status=status)


@router.get("/keys")
async def keys_page(request: Request, who: Reader) -> Response:
    who.require(Role.admin, "managing keys")
    return await _keys_page(request, who)


@router.post("/keys")
async def create_key(request: Request, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.admin, "managing keys")
    name = field(fields, "name")
    role = field(fields, "role")
    if role not in {r.value for r in Role}:
        raise InvalidDefinition("role is not one of reader, editor, admin", [Problem("role", role)])
    made = await runtime_of(request).keys.create(name, Role(role), actor=who.actor)
    # The secret is shown once, in this answer only (no-store), never again.
    return await _keys_page(request, who, created=made.secret, status=201)


@router.post("/keys/revoke")
async def revoke_key(request: Request, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.admin, "managing keys")
    await runtime_of(request).keys.revoke(field(fields, "name"), actor=who.actor)
    return RedirectResponse("/ui/keys", status_code=303)
