"""The early path of `PATCH /api/v1/tools/{name}`: the route's own handler
(routes/tool.answer_patch) called by the middleware before FastAPI's routing and dependency
injection, which were about a fifth of a patch's CPU on the event loop (docs/performance.md,
"Mixed load"). Taken only when the request is one the route takes as it is: a valid tool
name, at most one If-Match within the route's length, a JSON object sent as JSON or as a
merge patch, and a caller the route's own dependency admits (auth.editor_of); anything else
goes to the route with the body replayed, so every refusal keeps the route's answer."""

from __future__ import annotations

from typing import Final

import orjson
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from toolcatalog.api.auth import editor_of
from toolcatalog.api.problems import catalog_problem
from toolcatalog.api.request_body import no_body, read_body
from toolcatalog.api.routes.tool import MAX_IF_MATCH, answer_patch
from toolcatalog.api.tool_reads import route_takes
from toolcatalog.errors import CatalogError

TOOL_PREFIX: Final = "/api/v1/tools/"
# The If-Match value the middleware passes on when the header came more than once.
TWICE: Final = "\x00twice"
_PATCH_TYPES = ("application/json", "application/merge-patch+json")


async def serve_patch(
    scope: Scope,
    receive: Receive,
    content_type: str | None,
    content_length: str | None,
    if_match: str | None,
    send: Send,
) -> tuple[bool, Receive]:
    """(True, receive) when answered here; else (False, a receive that gives the route the
    body read here first)."""
    runtime = getattr(scope["app"].state, "runtime", None)
    if runtime is None or runtime.settings.opsconductor_api:
        return False, receive
    name = scope["path"][len(TOOL_PREFIX) :]
    if not route_takes(name, None) or (
        if_match is not None and (if_match == TWICE or len(if_match) > MAX_IF_MATCH)
    ):
        return False, receive
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in _PATCH_TYPES or not (content_length or "").isdigit():
        return False, receive  # the length was checked against the limit (middleware)
    raw, replay = await read_body(receive)
    if raw is None:
        return False, replay
    try:
        patch = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False, replay
    if not isinstance(patch, dict):
        return False, replay
    try:
        caller = await editor_of(Request(scope, replay))
        response = await answer_patch(runtime, caller, name, patch, if_match)
    except CatalogError as exc:
        await catalog_problem(exc)(scope, no_body, send)
        return True, receive
    await response(scope, no_body, send)
    return True, receive
