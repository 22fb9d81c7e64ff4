"""Importing from an upstream through the API, for editors: a live MCP server's tools (its
Streamable HTTP URL) or an OpenAPI spec (URL or inline), the same code as `toolcatalog import
--format mcp|openapi`: pinned, all or nothing, drift held unless the editor accepts it.

stdio commands are refused here, always: the service would run a command an HTTP caller
chose. URLs can be turned off (TOOLCATALOG_IMPORT_UPSTREAM_URLS=false), since the service
fetches them from where it runs."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.api.auth import EditorDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, problems
from toolcatalog.catalog.upstream import UpstreamFormat, import_upstream
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.runtime import Runtime

router = APIRouter(prefix="/api/v1/tools/import", tags=["catalog"], route_class=ORJSONRoute)

AcceptDrift = Annotated[
    bool | list[Annotated[str, Field(max_length=200)]],
    Field(
        description="Drifted tools to update anyway: true for all, or their names. Else a "
        "drifted tool is listed under `drifted` and left as it is."
    ),
]


class UpstreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(False, description="Run the whole transaction, then roll it back.")
    overwrite: bool = Field(True, description="Update changed tools that are not pinned.")
    skip_invalid: bool = Field(False, description="Import the valid tools, list the others.")
    accept_drift: AcceptDrift = False


class McpImportIn(UpstreamIn):
    url: str = Field(
        max_length=2000,
        pattern=r"^https?://",
        description="The MCP server's Streamable HTTP endpoint, e.g. https://host/mcp.",
    )


class OpenApiImportIn(UpstreamIn):
    url: str | None = Field(
        default=None, max_length=2000, pattern=r"^https?://", description="The spec's URL."
    )
    spec: str | dict[str, Any] | None = Field(
        default=None, description="The spec itself (YAML or JSON text, or a JSON object)."
    )
    per_tag: bool = Field(False, description="One tool per tag, not one for the spec.")


class DriftOut(BaseModel):
    name: str
    upstream: str = Field(description="kind:server/tool")
    pinned_sha256: str
    upstream_sha256: str
    accepted: bool
    diff: list[dict[str, Any]] = Field(description="What accepting changes: {op, path, from, to}.")


class UpstreamOut(BaseModel):
    success: bool = Field(description="False when a tool was refused or a drift was held.")
    written: bool
    dry_run: bool
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[str]
    drifted: list[DriftOut]
    invalid: int
    problems: list[str]
    source: dict[str, str | None]
    renamed: dict[str, str] = Field(description="Converted name -> the name given (taken).")
    proposed_capabilities: dict[str, list[str]] = Field(
        description="Capability names the vocabulary lacks -> the tools using them."
    )
    notes: list[str]


async def _run(
    runtime: Runtime, caller: Any, fmt: UpstreamFormat, source: str, body: UpstreamIn, **kw: Any
) -> UpstreamOut:
    settings = runtime.settings
    if source.startswith(("http://", "https://")) and not settings.import_upstream_urls:
        raise InvalidDefinition(
            "importing from a URL through the API is off on this service",
            [Problem("url", "TOOLCATALOG_IMPORT_UPSTREAM_URLS is false; use the CLI")],
        )
    done = await import_upstream(
        runtime.catalog,
        fmt,
        source,
        actor=caller.actor,
        timeout_s=settings.import_upstream_timeout_s,
        max_tools=settings.import_max_tools,
        dry_run=body.dry_run,
        overwrite=body.overwrite,
        skip_invalid=body.skip_invalid,
        accept_drift=body.accept_drift,
        **kw,
    )
    data = done.as_json()
    held = done.report.held if done.report is not None else []
    return UpstreamOut(
        success=done.report is not None and not data["problems"] and not held, **data
    )


@router.post(
    "/mcp",
    summary="Import a live MCP server's tools (Streamable HTTP)",
    description="Needs an editor key. Reads the server's tools/list (every page) and imports "
    "each tool pinned to what was read: all or nothing unless skip_invalid, idempotent. A "
    "tool whose upstream changed since it was pinned is listed under `drifted` with the diff "
    "and left as it is unless `accept_drift` names it. stdio servers: use the CLI. 502 when "
    "the server does not answer in time.",
    response_model=UpstreamOut,
    responses=problems(*BODY_ERRORS, 502),
)
async def import_mcp(runtime: RuntimeDep, caller: EditorDep, body: McpImportIn) -> UpstreamOut:
    return await _run(runtime, caller, "mcp", body.url, body)


@router.post(
    "/openapi",
    summary="Import an OpenAPI 3 spec's operations as tools",
    description="Needs an editor key. Give `url` or `spec`. One tool for the spec (or one per "
    "tag), each operation a pattern with its parameters as inputs; GET reads, other methods "
    "need approval. Pinned and drift-checked like /import/mcp.",
    response_model=UpstreamOut,
    responses=problems(*BODY_ERRORS, 502),
)
async def import_openapi(
    runtime: RuntimeDep, caller: EditorDep, body: Annotated[OpenApiImportIn, Body()]
) -> UpstreamOut:
    if (body.url is None) == (body.spec is None):
        raise InvalidDefinition(
            "give the spec's url or the spec itself", [Problem("", "exactly one of url, spec")]
        )
    text = None
    if body.spec is not None:
        text = body.spec if isinstance(body.spec, str) else orjson.dumps(body.spec).decode()
    return await _run(
        runtime,
        caller,
        "openapi",
        body.url or "spec",
        body,
        group="tag" if body.per_tag else "spec",
        spec_text=text,
    )
