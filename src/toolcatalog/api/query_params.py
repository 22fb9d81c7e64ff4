"""Refusing query parameters a route does not take, with a 422 that says what it does take.

FastAPI ignores unknown query parameters, so `GET /api/v1/tools?name=df` silently answered
the whole list to the seed platform's clients, which filtered with `name`, `latest`, `page`.
Routes that lists are read through depend on `refuse_unknown_query`; the hints name the
nearest thing we offer for the parameters the seed's clients send.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

HINTS = {
    "name": "to find tools by name use q= (full-text search) or GET /api/v1/tools/{name}",
    "latest": "lists hold each tool's current revision; older ones are at "
    "/api/v1/tools/{name}/versions",
    "page": "pages are keyset-based: pass limit= and the previous next_cursor as cursor=",
    "page_size": "use limit= (1..500)",
}
SEED_NOTE = (
    "; OpsConductor clients: set TOOLCATALOG_OPSCONDUCTOR_API=true on the server or use "
    "/opsconductor/api/v1/tools (docs/api.md)"
)

_known: dict[int, frozenset[str]] = {}


def _known_names(route: APIRoute) -> frozenset[str]:
    names = _known.get(id(route))
    if names is None:
        names = frozenset(_query_names(route.dependant))
        _known[id(route)] = names
    return names


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """Raise a 422 naming every query parameter this route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _known_names(route)
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in known]
    if not unknown:
        return
    takes = ", ".join(sorted(known)) or "none"
    seed = SEED_NOTE if route.path.startswith("/api/") else ""
    raise RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": f"unknown query parameter {name!r} (this route takes: {takes})"
                + (f"; {HINTS[name]}{seed}" if name in HINTS else ""),
                "input": request.query_params.get(name),
            }
            for name in unknown
        ]
    )
