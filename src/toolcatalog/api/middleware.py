"""One pure-ASGI middleware for every request: request id, body limits, content type,
metrics by route template, the access log line, and the fast path of cached reads.

Pure ASGI (not BaseHTTPMiddleware) because it runs on every request and must stay cheap.

The early paths (cached reads of one tool and of lists, selects, patches) are answered by
api/early_answers.py before FastAPI's routing; this middleware gives them the request's
headers and context.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolcatalog import metrics
from toolcatalog.api.early_answers import Headers, answer_early
from toolcatalog.api.problems import internal_problem, problem
from toolcatalog.api.request_body import no_body
from toolcatalog.api.responses import ProblemResponse
from toolcatalog.api.tool_writes import TWICE as _TWICE
from toolcatalog.console import FORM_PATH_PREFIX
from toolcatalog.logs import log_access, request_id_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/problem+json")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The web console's forms post application/x-www-form-urlencoded, under its prefix only.
_FORM_TYPE = "application/x-www-form-urlencoded"
log = logging.getLogger(__name__)


def _too_large(limit: int) -> str:
    return (
        f"the body is over {limit} bytes, the limit TOOLCATALOG_MAX_BODY_BYTES sets; "
        "split the request"
    )


class RouteTemplates:
    """The route template a path would reach, for the metrics of a request answered before
    routing (413, 415): the paths of the OpenAPI document, compiled once, in route order."""

    def __init__(self, paths: Callable[[], Iterable[str]]) -> None:
        self._paths = paths
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def match(self, path: str) -> str | None:
        if self._compiled is None:
            self._compiled = [(compile_path(p)[0], p) for p in self._paths()]
        for regex, template in self._compiled:
            if regex.match(path):
                return template
        return None


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log_enabled: bool,
        templates: RouteTemplates | None = None,
    ) -> None:
        self.app = app
        # To label a request refused here (413, 415) by its route.
        self.templates = templates
        self.max_body_bytes = max_body_bytes
        self.access_log_enabled = access_log_enabled
        # (route, method, status) -> bound metric children; labels are bounded, so is this.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method: str = scope["method"]
        given_id, headers = _read_headers(scope["headers"])
        request_id = given_id if given_id and _REQUEST_ID_RE.match(given_id) else _new_id()
        token = request_id_var.set(request_id)
        status_holder = [500]
        rid_header = (b"x-request-id", request_id.encode())
        template: str | None = None

        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            if method in _BODY_METHODS:
                refusal = self._refuse(headers.content_type, headers.content_length, scope["path"])
                if refusal is not None:
                    if self.templates is not None:
                        template = self.templates.match(scope["path"])
                    await refusal(scope, no_body, send_wrapper)
                    return
            template, receive = await answer_early(scope, receive, headers, send_wrapper)
            if template is not None:
                return
            try:
                await self.app(scope, self._limited(receive), send_wrapper)
            except Exception:
                # The error handler runs here, inside the request context, so the 500 carries
                # the request id (body and X-Request-ID) and so does its log record. Not
                # re-raised: the server would log it a second time, without the id.
                log.exception("unexpected error", extra={"path": scope.get("path")})
                if started:
                    raise  # half an answer is out; the server can only drop the connection
                await internal_problem()(scope, no_body, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            if template is None:
                template = getattr(scope.get("route"), "path", None) or "unmatched"
            self._record(scope, template, status_holder[0], elapsed)
            request_id_var.reset(token)

    def _record(self, scope: Scope, template: str, status: int, elapsed: float) -> None:
        """Count the request in the metrics by its route template; log its access line."""
        method: str = scope["method"]
        label = method if method in metrics.HTTP_METHODS else "OTHER"
        key = (template, label, status)
        children = self._children.get(key)
        if children is None:
            children = (
                metrics.HTTP_REQUESTS.labels(template, label, str(status)),
                metrics.HTTP_DURATION.labels(template, label),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        if self.access_log_enabled:
            log_access(
                {
                    "method": method,
                    "route": template,
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "client": (scope.get("client") or ("-",))[0],
                }
            )

    def _refuse(
        self, content_type: str | None, content_length: str | None, path: str = ""
    ) -> ProblemResponse | None:
        """The problem answering a body too large or of a type the API does not read, before
        it is read; None to go on."""
        if (
            content_length
            and content_length.isdigit()
            and int(content_length) > self.max_body_bytes
        ):
            detail = _too_large(self.max_body_bytes)
            return problem(413, "Payload too large", detail, code="payload_too_large")
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype == _FORM_TYPE and path.startswith(FORM_PATH_PREFIX):
            return None
        if ctype and ctype not in _JSON_TYPES:
            detail = f"send the body as application/json (got {ctype})"
            return problem(415, "Unsupported media type", detail, code="unsupported_media_type")
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
                    raise HTTPException(413, _too_large(limit))
            return message

        return wrapped


def _read_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, Headers]:
    """The X-Request-ID given (or None), and the headers the early answers and the body
    checks read; a second If-Match is TWICE (the patch refuses it)."""
    given_id = if_none_match = content_type = content_length = if_match = None
    credentials = False
    for key, value in raw:
        if key == b"x-request-id":
            given_id = value.decode("latin-1")
        elif key == b"if-none-match":
            if_none_match = value.decode("latin-1")
        elif key == b"content-type":
            content_type = value.decode("latin-1")
        elif key == b"content-length":
            content_length = value.decode("latin-1")
        elif key == b"if-match":
            if_match = value.decode("latin-1") if if_match is None else _TWICE
        elif key in (b"authorization", b"x-api-key"):
            credentials = True
    return given_id, Headers(if_none_match, content_type, content_length, if_match, credentials)


_id_prefix = ""
_id_counter = 0


def _new_id() -> str:
    """A request id unique across processes: a random per-process prefix and a counter
    (a fifth of the cost of uuid4 on the hot path)."""
    global _id_prefix, _id_counter
    if not _id_prefix:
        _id_prefix = os.urandom(6).hex()
    _id_counter += 1
    return f"{_id_prefix}{_id_counter:08x}"
