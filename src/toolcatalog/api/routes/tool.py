"""/api/v1/tools/{name}: read, replace, merge-patch, enable/disable, delete one tool, its
capabilities, and checking a definition of it.

ETag rules: GET answers 304 to a matching If-None-Match. Every write honours If-Match when
sent (a stale ETag is 412 and changes nothing); PUT and PATCH without If-Match are refused with
428 unless TOOLCATALOG_REQUIRE_IF_MATCH=false (a read-modify-write without it would silently
undo a concurrent change). Enable, disable and delete set one state and need none.
Registered last: `{name}` would otherwise take fixed segments such as `health` or `search`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response
from pydantic import BaseModel

from toolcatalog.api.auth import Caller, EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.problems import problem
from toolcatalog.api.routes.tools import TOOL_EXAMPLE, tool_response
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    BODY_ERRORS,
    ETAG_HEADER,
    READ_ERRORS,
    ProblemItem,
    ValidationOut,
    example,
    problems,
)
from toolcatalog.api.tool_reads import MAX_IF_NONE_MATCH, answer_tool
from toolcatalog.catalog.checks import DefinitionCheck, check_definition
from toolcatalog.catalog.keys import Role
from toolcatalog.errors import Problem
from toolcatalog.model.fields import TOOL_NAME_RE
from toolcatalog.model.tool import Capability, Tool
from toolcatalog.runtime import Runtime

router = APIRouter(prefix="/api/v1/tools", tags=["tools"], route_class=ORJSONRoute)

Name = Annotated[str, Path(pattern=TOOL_NAME_RE, description="The tool's name.")]
MAX_IF_MATCH = 1000
IfMatch = Annotated[
    str | None,
    Header(
        max_length=MAX_IF_MATCH,
        description="The ETag you last read. Stale: 412 and nothing changes. `*`: any.",
    ),
]
_WRITTEN: dict[int | str, dict[str, Any]] = {
    200: {"description": "The stored definition", "headers": ETAG_HEADER}
}
_WRITE_ERRORS = problems(*BODY_ERRORS, 404, 412)
_UNNAMED = {k: v for k, v in TOOL_EXAMPLE.items() if k != "name"}
_PATCH_EXAMPLE = {"description": "Disk usage per mount, human-readable.", "tags": ["disk"]}


def _if_match_required(runtime: Runtime, if_match: str | None) -> Response | None:
    if if_match is None and runtime.settings.require_if_match:
        return problem(
            428,
            "Precondition required",
            "PUT and PATCH need an If-Match header: GET the tool, change it, and send its "
            "ETag back as If-Match (or If-Match: * to overwrite whatever is there); servers "
            "may allow writes without it with TOOLCATALOG_REQUIRE_IF_MATCH=false",
            code="precondition_required",
        )
    return None


@router.get(
    "/{name}",
    summary="Get one tool",
    response_model=Tool,
    responses={
        200: {"description": "The definition", "headers": ETAG_HEADER},
        304: {"description": "Not modified (If-None-Match matched)"},
        **problems(*READ_ERRORS, 404),
    },
)
async def get_tool(
    name: Name,
    catalog: CatalogDep,
    _caller: ReaderDep,
    if_none_match: Annotated[str | None, Header(max_length=MAX_IF_NONE_MATCH)] = None,
) -> Response:
    # The middleware calls the same handler for reads that need no key check (middleware.py).
    answer = await answer_tool(catalog, name, if_none_match)
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = answer.headers
    return response


@router.put(
    "/{name}",
    summary="Replace a tool",
    description="Needs an editor key. The body is the full definition; its `name` must be the "
    "one in the URL. A new version is recorded only if the definition changes.",
    response_model=Tool,
    responses={**_WRITTEN, **_WRITE_ERRORS, **problems(428)},
)
async def replace_tool(
    name: Name,
    runtime: RuntimeDep,
    caller: EditorDep,
    tool: Annotated[Tool, Body(openapi_examples={"df": {"value": TOOL_EXAMPLE}})],
    if_match: IfMatch = None,
) -> Response:
    refusal = _if_match_required(runtime, if_match)
    if refusal is not None:
        return refusal
    cached = await runtime.catalog.replace_tool(name, tool, if_match=if_match, actor=caller.actor)
    return tool_response(cached)


@router.patch(
    "/{name}",
    summary="Change part of a tool (JSON Merge Patch)",
    description="Needs an editor key. An RFC 7396 merge patch: members replace, `null` "
    "removes, objects merge, arrays are replaced whole. The result is validated like a full "
    "definition. Send `application/merge-patch+json` (or `application/json`).",
    response_model=Tool,
    responses={**_WRITTEN, **_WRITE_ERRORS, **problems(428)},
)
async def patch_tool(
    name: Name,
    runtime: RuntimeDep,
    caller: EditorDep,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            openapi_examples={"describe": {"value": _PATCH_EXAMPLE}},
        ),
    ],
    if_match: IfMatch = None,
) -> Response:
    return await answer_patch(runtime, caller, name, patch, if_match)


async def answer_patch(
    runtime: Runtime, caller: Caller, name: str, patch: dict[str, Any], if_match: str | None
) -> Response:
    """The route's answer, also given by the middleware's early path (api/middleware.py)."""
    refusal = _if_match_required(runtime, if_match)
    if refusal is not None:
        return refusal
    cached = await runtime.catalog.patch_tool(name, patch, if_match=if_match, actor=caller.actor)
    return tool_response(cached)


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a tool",
    description="Needs an editor key. Soft delete: status `disabled`, enabled false, kept with "
    "its history (answers with the new ETag). `?purge=true` needs an admin key and removes "
    "the tool; its trail stays in the audit log.",
    responses={
        204: {"description": "Deleted", "headers": ETAG_HEADER},
        **problems(401, 403, 404, 412, 422, 503),
    },
)
async def delete_tool(
    name: Name,
    catalog: CatalogDep,
    caller: EditorDep,
    purge: Annotated[bool, Query(description="Remove the tool (admin).")] = False,
    if_match: IfMatch = None,
) -> Response:
    if purge:
        caller.require(Role.admin, "purging a tool")
    cached = await catalog.delete_tool(name, purge=purge, actor=caller.actor, if_match=if_match)
    headers = {"ETag": cached.etag} if cached is not None else {}
    return Response(status_code=204, headers=headers)


async def _set_enabled(
    name: str, enabled: bool, catalog: CatalogDep, caller: EditorDep, if_match: str | None
) -> Response:
    cached = await catalog.set_enabled(name, enabled, actor=caller.actor, if_match=if_match)
    return tool_response(cached)


@router.patch(
    "/{name}/enable",
    summary="Enable a tool",
    response_model=Tool,
    responses={**_WRITTEN, **problems(401, 403, 404, 412, 422, 503)},
)
async def enable_tool(
    name: Name, catalog: CatalogDep, caller: EditorDep, if_match: IfMatch = None
) -> Response:
    return await _set_enabled(name, True, catalog, caller, if_match)


@router.patch(
    "/{name}/disable",
    summary="Disable a tool",
    response_model=Tool,
    responses={**_WRITTEN, **problems(401, 403, 404, 412, 422, 503)},
)
async def disable_tool(
    name: Name, catalog: CatalogDep, caller: EditorDep, if_match: IfMatch = None
) -> Response:
    return await _set_enabled(name, False, catalog, caller, if_match)


class ToolCapabilities(BaseModel):
    model_config = example(tool_name="df", capabilities=TOOL_EXAMPLE["capabilities"])

    tool_name: str
    capabilities: list[Capability]


@router.get(
    "/{name}/capabilities",
    summary="A tool's capabilities and patterns",
    response_model=ToolCapabilities,
    responses=problems(*READ_ERRORS, 404),
)
async def tool_capabilities(name: Name, catalog: CatalogDep, _caller: ReaderDep) -> Any:
    cached = await catalog.get_tool(name)
    return ToolCapabilities(tool_name=name, capabilities=list(cached.tool.capabilities))


def validation_out(check: DefinitionCheck, extra: list[Problem] | None = None) -> ValidationOut:
    found = [*(extra or []), *check.problems]
    return ValidationOut(
        valid=check.valid and not found,
        errors=[str(p) for p in found],
        warnings=check.warnings,
        problems=[ProblemItem(path=p.path, message=p.message) for p in found],
    )


@router.post(
    "/{name}/validate",
    summary="Check a definition of this tool (writes nothing)",
    description="With a body: checks it as the new definition of `name` (a missing `name` is "
    "filled in). Without one: re-checks the stored definition. Invalid definitions are an "
    "answer (`valid: false`), not an error.",
    response_model=ValidationOut,
    responses=problems(*BODY_ERRORS, 404),
)
async def validate_named(
    name: Name,
    catalog: CatalogDep,
    _caller: ReaderDep,
    definition: Annotated[
        Any, Body(description="A tool definition.", openapi_examples={"df": {"value": _UNNAMED}})
    ] = None,
) -> ValidationOut:
    if definition is None:
        stored = await catalog.get_tool(name)
        return validation_out(await check_definition(catalog, stored.tool.model_dump(mode="json")))
    extra: list[Problem] = []
    if isinstance(definition, dict):
        definition = {"name": name, **definition}
        if definition["name"] != name:
            extra.append(Problem("name", f"must be {name!r}, the name in the URL"))
    return validation_out(await check_definition(catalog, definition), extra)
