"""The route class every router uses: request bodies are parsed with orjson.

orjson is several times faster than the standard library's json, and stricter where that
matters for a database behind the API: it refuses lone surrogates (which PostgreSQL cannot
store), NaN and Infinity, and nesting deeper than 1024 levels (where json.loads would raise
RecursionError, a 500). Its JSONDecodeError subclasses json's, so FastAPI still turns it
into a 400 "Malformed JSON" problem.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


class ORJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


# Set on the reader dependency (auth.py) and on the OpenAPI operations of routes that use it,
# so that the document can declare their key optional (auth.document_open_reads).
OPEN_READ = "x-open-read"


class ORJSONRoute(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _uses_open_read(self.dependant):
            self.openapi_extra = {**(self.openapi_extra or {}), OPEN_READ: True}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def orjson_handler(request: Request) -> Response:
            return await handler(ORJSONRequest(request.scope, request.receive))

        return orjson_handler


def _uses_open_read(dependant: Dependant) -> bool:
    return any(
        getattr(d.call, OPEN_READ, False) or _uses_open_read(d) for d in dependant.dependencies
    )
