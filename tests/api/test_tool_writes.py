"""The early path of PATCH /api/v1/tools/{name} (api/tool_writes.py): a patch the route takes
as it is is answered before FastAPI's routing with the route's own handler; anything else
reaches the route, body and all, and gets the route's answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.types import Message

from toolcatalog.api.app import create_app
from toolcatalog.runtime import Runtime

from .support import Keys, create

TOOLS = "/api/v1/tools"


async def _patch(
    runtime: Runtime, name: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], Any, bool]:
    """PATCH through the ASGI app itself: status, headers, JSON body, and whether FastAPI's
    router handled it (it leaves the endpoint in the scope)."""
    path = f"{TOOLS}/{name}"
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PATCH",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 123), "server": ("test", 80),
        "headers": [(b"host", b"test"), (b"content-length", str(len(body)).encode()), *headers],
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await create_app(runtime)(scope, receive, send)
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    got = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], got, json.loads(content), "endpoint" in scope


def _auth(keys: Keys) -> tuple[bytes, bytes]:
    return (b"authorization", keys.editor["Authorization"].encode())


async def test_a_patch_the_route_takes_is_answered_before_routing_as_the_route_would(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys)
    headers = [(b"content-type", b"application/merge-patch+json"), (b"if-match", b"*"), _auth(keys)]
    status, got, body, routed = await _patch(
        runtime, "alpha_tool", b'{"owner": "sre", "tags": ["a"]}', headers
    )
    assert (status, routed) == (200, False)
    stored = await client.get(f"{TOOLS}/alpha_tool")
    assert body == stored.json()
    assert body["owner"] == "sre"
    assert got["etag"] == stored.headers["etag"]


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [
        (b"[1, 2]", [(b"if-match", b"*")], 422),  # not an object
        (b'{"owner": NaN}', [(b"if-match", b"*")], 400),  # not JSON orjson reads
        (b'{"owner": "x"}', [(b"if-match", b"*"), (b"if-match", b'"stale"')], 200),
        (b'{"owner": "x"}', [(b"if-match", b"*" * 1001)], 422),
    ],
)
async def test_what_the_early_path_leaves_gets_the_routes_answer(
    runtime: Runtime,
    client: httpx.AsyncClient,
    keys: Keys,
    body: bytes,
    extra: list[tuple[bytes, bytes]],
    status: int,
) -> None:
    await create(client, keys)
    headers = [(b"content-type", b"application/json"), _auth(keys), *extra]
    got_status, _headers, _body, routed = await _patch(runtime, "alpha_tool", body, headers)
    assert (got_status, routed) == (status, True)


@pytest.mark.parametrize(
    ("name", "role", "if_match", "status"),
    [
        ("alpha_tool", "none", b"*", 401),
        ("alpha_tool", "reader", b"*", 403),
        ("alpha_tool", "editor", None, 428),
        ("alpha_tool", "editor", b'"stale"', 412),
        ("ghost_tool", "editor", b"*", 404),
    ],
)
async def test_refusals_on_the_early_path_are_the_routes_problems(
    runtime: Runtime,
    client: httpx.AsyncClient,
    keys: Keys,
    name: str,
    role: str,
    if_match: bytes | None,
    status: int,
) -> None:
    """The same request early (application/json) and through the route (a JSON type the
    early path leaves to it): the same status and problem, but for the request id."""
    await create(client, keys)
    headers = [(k.lower().encode(), v.encode()) for k, v in keys.of(role).items()]
    if if_match is not None:
        headers.append((b"if-match", if_match))
    answers = []
    for ctype in (b"application/json", b"application/problem+json"):
        answers.append(
            await _patch(runtime, name, b'{"owner": "x"}', [(b"content-type", ctype), *headers])
        )
    (early, _h, early_problem, early_routed), (routed, _h2, problem, routed_routed) = answers
    assert (early, early_routed, routed, routed_routed) == (status, False, status, True)
    assert early_problem.pop("request_id") != problem.pop("request_id")
    assert early_problem == problem
