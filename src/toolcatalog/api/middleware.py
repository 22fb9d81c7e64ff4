"""One pure-ASGI middleware for every request: request id, body limits, content type,
metrics by route template and the access log line. Pure ASGI (not BaseHTTPMiddleware)
because it runs on every request and must stay cheap."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolcatalog import metrics
from toolcatalog.logs import request_id_var

access_log = logging.getLogger("toolcatalog.access")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/problem+json")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _problem(status: int, title: str, detail: str, request_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": "https://toolcatalog.dev/problems/" + title.lower().replace(" ", "_"),
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log_enabled: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = _headers(scope)
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        method: str = scope["method"]
        status_holder = [500]
        rid_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            refusal = self._refuse(method, headers)
            if refusal is not None:
                status, title, detail = refusal
                await _send_problem(send_wrapper, status, title, detail, request_id)
                return
            await self.app(scope, self._limited(receive), send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            status = status_holder[0]
            metrics.HTTP_REQUESTS.labels(template, method, str(status)).inc()
            metrics.HTTP_DURATION.labels(template, method).observe(elapsed)
            if self.access_log_enabled:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": template,
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": (scope.get("client") or ("-",))[0],
                    },
                )
            request_id_var.reset(token)

    def _refuse(self, method: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        if method not in _BODY_METHODS:
            return None
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            return 413, "Payload too large", f"the body is over {self.max_body_bytes} bytes"
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype not in _JSON_TYPES:
            return (
                415,
                "Unsupported media type",
                f"send the body as application/json (got {ctype})",
            )
        return None

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the route's body parsing; FastAPI re-raises HTTPException
                    # and problems.py renders it.
                    raise HTTPException(413, f"the body is over {limit} bytes")
            return message

        return wrapped


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out[key.decode("latin-1")] = value.decode("latin-1")
    return out


async def _send_problem(send: Any, status: int, title: str, detail: str, rid: str) -> None:
    body = _problem(status, title, detail, rid)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
