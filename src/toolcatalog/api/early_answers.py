"""Requests answered before FastAPI's routing, by the routes' own handlers.

The early path of `GET /api/v1/tools/{name}` (no query string): the route's own handler
(api/tool_reads.py: held bytes and ETag, else a load, 304, stale fallbacks, 404 with the
closest names) is called here, without FastAPI's routing and dependency injection, which
cost ~5x the rest of the request (measured in docs/performance.md). Left to the route, which
calls the same handler: reads that need an API key (`TOOLCATALOG_AUTH=required`) or send one
(a key that is sent must be valid: checking keys is api/auth.py's job), a name or an
If-None-Match the route refuses (422), and the seed's contract
(TOOLCATALOG_OPSCONDUCTOR_API). `GET /api/v1/tools` (lists, filters, search) the same way,
for the query spellings api/tool_lists.py takes. `POST /api/v1/select` the same way when its
JSON body validates (the route answers the rest, with the body replayed), its caller admitted
by the route's own dependency (auth.reader_of); its answer is sent from the callback that
completes the ranking (api/eager_send.py). `PATCH /api/v1/tools/{name}` the same way
(api/tool_writes.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import NamedTuple

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from toolcatalog.api.auth import reader_of
from toolcatalog.api.eager_send import start_sending
from toolcatalog.api.problems import catalog_problem
from toolcatalog.api.request_body import no_body, read_body
from toolcatalog.api.routes.select import answer_select
from toolcatalog.api.seed_answers import serve_seed
from toolcatalog.api.tool_lists import answer_list, parse_list_query
from toolcatalog.api.tool_reads import answer_tool, route_takes
from toolcatalog.api.tool_writes import TOOL_PREFIX as _TOOL_PREFIX
from toolcatalog.api.tool_writes import serve_patch
from toolcatalog.errors import CatalogError
from toolcatalog.selection.models import SelectionRequest

_JSON_TYPE = b"application/json"
TOOL_ROUTE = "/api/v1/tools/{name}"
LIST_ROUTE = "/api/v1/tools"
SELECT_ROUTE = "/api/v1/select"


class Headers(NamedTuple):
    """The request headers the early answers read (None when not sent)."""

    if_none_match: str | None
    content_type: str | None
    content_length: str | None
    if_match: str | None
    credentials: bool  # an Authorization or X-API-Key header was sent


async def answer_early(
    scope: Scope, receive: Receive, headers: Headers, send: Send
) -> tuple[str | None, Receive]:
    """Answer the request here when one of the early paths takes it: (the route template it
    answered as, or None when the route is left to answer; the receive the route reads the
    body from, which replays a body read here)."""
    method: str = scope["method"]
    path: str = scope["path"]
    if method == "POST" and path == SELECT_ROUTE:
        answered, receive = await _serve_select(
            scope, receive, headers.content_type, headers.content_length, send
        )
        if answered:
            return SELECT_ROUTE, receive
    elif method == "PATCH" and path.startswith(_TOOL_PREFIX):
        answered, receive = await serve_patch(
            scope, receive, headers.content_type, headers.content_length, headers.if_match, send
        )
        if answered:
            return TOOL_ROUTE, receive
    elif method == "GET" and not headers.credentials:  # a sent key is checked (api/auth.py)
        if headers.if_none_match is None:
            template = await serve_seed(scope, send)
            if template is not None:
                return template, receive
        if await _serve_tool(scope, headers.if_none_match, send):
            return TOOL_ROUTE, receive
        if path == LIST_ROUTE and await _serve_list(scope, send):
            return LIST_ROUTE, receive
    return None, receive


async def _serve_tool(scope: Scope, if_none_match: str | None, send: Send) -> bool:
    """Answer a GET of one tool with the route's own handler (api/tool_reads.py), before
    FastAPI's routing, when no key needs checking and the route would accept the request;
    False (nothing sent) leaves it to the route."""
    path: str = scope["path"]
    if not path.startswith(_TOOL_PREFIX) or scope["query_string"]:
        return False
    name = path[len(_TOOL_PREFIX) :]
    runtime = getattr(scope["app"].state, "runtime", None)
    if runtime is None or runtime.settings.auth == "required":
        return False
    if runtime.settings.opsconductor_api:
        return False  # the path answers the seed's shape (routes/seed_reads.py)
    if not route_takes(name, if_none_match):
        return False  # a fixed route (/health), or the route refuses it (422)
    try:
        answer = await answer_tool(runtime.catalog, name, if_none_match)
    except CatalogError as exc:
        await catalog_problem(exc)(scope, no_body, send)
        return True
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
    return True


async def _serve_list(scope: Scope, send: Send) -> bool:
    """Answer `GET /api/v1/tools` with the route's own handler (api/tool_lists.py) when no key
    needs checking and the query is spelt as the route takes it; False leaves it to the
    route."""
    runtime = getattr(scope["app"].state, "runtime", None)
    if runtime is None or runtime.settings.auth == "required":
        return False
    if runtime.settings.opsconductor_api:
        return False  # the path answers the seed's shape (routes/seed_reads.py)
    query = parse_list_query(scope["query_string"])
    if query is None:
        return False
    try:
        body = await answer_list(runtime.catalog, query)
    except CatalogError as exc:
        await catalog_problem(exc)(scope, no_body, send)
        return True
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON_TYPE)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


async def _serve_select(
    scope: Scope,
    receive: Receive,
    content_type: str | None,
    content_length: str | None,
    send: Send,
) -> tuple[bool, Receive]:
    """Answer `POST /api/v1/select` with the route's own handler (routes/select.py), before
    FastAPI's routing and dependency injection (~a third of a select's CPU on the loop), when
    the body is JSON that validates and the caller is admitted as the route admits them
    (auth.reader_of). Anything else (a body that does not parse or validate, a body without
    a length) goes to the route, which answers it with its problem: (False, a receive that
    gives the route the body read here first)."""
    runtime = getattr(scope["app"].state, "runtime", None)
    if runtime is None or runtime.settings.opsconductor_api:
        return False, receive
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype != "application/json" or not (content_length or "").isdigit():
        return False, receive  # the length was checked against the limit (_refuse)
    raw, replay = await read_body(receive)
    if raw is None:
        return False, replay
    try:
        body = SelectionRequest.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError):
        return False, replay
    # The answer is sent from the callback that completes the ranking's hop, a turn of the
    # loop before this task wakes (api/eager_send.py); the rest of a send that had to wait
    # for the client is awaited here.
    sending: list[Awaitable[None] | None] = []

    def send_answer(answer: bytes) -> None:
        sending.append(start_sending(send, _json_answer(answer)))

    try:
        caller = await reader_of(Request(scope, replay))
        answer = await answer_select(runtime, caller, body, send_answer)
    except CatalogError as exc:
        await catalog_problem(exc)(scope, no_body, send)
        return True, receive
    if not sending:  # answered without the hop's callback (none is promised)
        for message in _json_answer(answer):
            await send(message)
    elif (rest := sending[0]) is not None:
        await rest
    return True, receive


def _json_answer(answer: bytes) -> tuple[Message, Message]:
    headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", _JSON_TYPE)]
    return (
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": answer},
    )
