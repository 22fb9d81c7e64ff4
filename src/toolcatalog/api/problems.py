"""The one error mapper: CatalogError, FastAPI validation errors and anything unexpected
become RFC 9457 problem+json. No stack trace reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from toolcatalog.api.responses import ProblemResponse
from toolcatalog.errors import (
    HTTP_STATUS,
    Busy,
    CatalogError,
    InvalidDefinition,
    http_status,
)
from toolcatalog.formats.problems import inside_free_json, json_path
from toolcatalog.logs import request_id_var

log = logging.getLogger(__name__)

STATUS = HTTP_STATUS
TYPE_BASE = "https://toolcatalog.dev/problems/"
# Problems listed in one answer: 10,000 invalid tools in a bulk body would otherwise answer
# megabytes of them. The detail keeps the full count.
MAX_LISTED = 100
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


status_of = http_status


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id_var.get(),
    }
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


async def _catalog_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, CatalogError)
    return catalog_problem(exc)


def catalog_problem(exc: CatalogError) -> ProblemResponse:
    """The problem+json answer to a refused request (also sent by the middleware's early
    path, api/tool_reads.py, before routing)."""
    status = status_of(exc)
    log.info("request refused", extra={"code": exc.code, "status": status})
    errors = None
    if isinstance(exc, InvalidDefinition):
        errors = [
            {"path": p.path, "message": p.message}
            | ({"file": p.file} if p.file else {})
            | ({"line": p.line} if p.line else {})
            for p in exc.problems
        ]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    elif isinstance(exc, Busy):
        headers = {"Retry-After": "1"}
    return problem(status, exc.title, exc.detail, code=exc.code, errors=errors, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    malformed = False
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            malformed = True
        where = loc[0] if loc else "body"
        path = json_path([p for p in loc[1:] if isinstance(p, str | int)])
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        path, message = inside_free_json(err, path, message)
        errors.append({"path": path, "in": where, "message": message})
    if malformed:
        return problem(
            400,
            "Malformed JSON",
            "the request body is not valid JSON",
            code="malformed_json",
            errors=errors,
        )
    listed = f" (the first {MAX_LISTED} listed)" if len(errors) > MAX_LISTED else ""
    return problem(
        422,
        "Invalid request",
        f"{len(errors)} problem(s) in the request{listed}",
        code="invalid_request",
        errors=errors[:MAX_LISTED],
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large",
              415: "Unsupported media type", 400: "Bad request"}  # fmt: skip
    title = titles.get(exc.status_code, "HTTP error")
    headers = dict(exc.headers or {})
    detail = str(exc.detail)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    return problem(
        exc.status_code, title, detail, code=title.lower().replace(" ", "_"), headers=headers
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's 405 names only the methods of
    the first route matching the path, but FastAPI makes one route per method (`GET /keys`
    and `POST /keys`), and RFC 9110 wants them all in `Allow`."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def internal_problem() -> ProblemResponse:
    """The 500 answer: nothing of the failure reaches the client, the request id finds it in
    the logs. (The middleware sends it for an error that escaped the handlers.)"""
    return problem(
        500,
        "Internal error",
        "the server failed to handle this request; the request id identifies it in the logs",
        code="internal",
    )


async def _unexpected(_request: Request, exc: Exception) -> ProblemResponse:
    log.error("unexpected error", exc_info=exc)
    return internal_problem()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CatalogError, _catalog_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
