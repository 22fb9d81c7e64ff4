"""Where the OpsConductor (seed) platform's contract is mounted; docs/api.md says why.

Always under /opsconductor/api/v1/tools. With TOOLCATALOG_OPSCONDUCTOR_API=true also under
/api/v1/tools, where the seed's clients call it, with ours then reachable unchanged under
/native/api/v1/tools too. Under a shared prefix the order matters (routes match in order):
the seed's fixed and two-segment paths first, so they win where both contracts name the same
path; then our routes; then the seed's `/{tool_name}`, which would otherwise take our fixed
one-segment paths (`metrics`, ...); our `/{name}` routes last.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from toolcatalog.api.routes import seed_reads, seed_writes

NATIVE_PREFIX = "/native"


def fixed_routers() -> list[APIRouter]:
    return [seed_reads.router, seed_writes.router]


def named_routers() -> list[APIRouter]:
    return [seed_reads.named, seed_writes.named]


def include(app: FastAPI, routers: list[APIRouter], prefix: str) -> None:
    """The routes of `routers` under `prefix`, as routes whose own path carries the prefix:
    the request metrics and the access log label a request with its route's path, and a path
    given only at include time would label both mounts' lists ""."""
    for router in routers:
        copy = seed_reads.seed_router(prefix)
        for route in router.routes:
            assert isinstance(route, APIRoute)
            copy.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                status_code=route.status_code,
                name=route.name,
            )
        app.include_router(copy)
