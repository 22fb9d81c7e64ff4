"""The OpsConductor (seed) platform's write routes, in its shapes: create (its request body,
converted by the same converter as `toolcatalog import --format opsconductor`), update,
delete, enable/disable, validate and export. Mounted by `seed.mount`.

Writes keep our rules (an editor key, one audited transaction each) with two differences the
seed's clients need, since they know no ETags: updates never require If-Match (each is a
merge patch applied under the tool's row lock, so concurrent writers are serialised, never
lost), and DELETE removes the tool as the seed's did (a purge: admin, trail kept in the audit
log), so that reading it afterwards answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.routes.catalog_io import export_yaml
from toolcatalog.api.routes.seed_reads import seed_router
from toolcatalog.api.routes.tool import IfMatch, validation_out
from toolcatalog.api.schemas import ValidationOut
from toolcatalog.api.seed_shapes import seed_tool, update_patch
from toolcatalog.catalog.checks import check_definition
from toolcatalog.catalog.keys import Role
from toolcatalog.errors import InvalidDefinition, NotFound, Problem
from toolcatalog.formats.opsconductor import ConversionReport, convert_opsconductor
from toolcatalog.model.tool import Tool

router = seed_router()
named = seed_router()

ToolName = Annotated[str, Path(max_length=200)]
UPDATE_FIELDS = frozenset(
    {"description", "status", "enabled", "defaults", "dependencies", "metadata", "updated_by"}
)


def _convert(body: Any) -> tuple[Tool, ConversionReport]:
    if not isinstance(body, dict):
        raise InvalidDefinition(
            "the body must be an OpsConductor tool (a JSON object with tool_name, ...)",
            [Problem("", f"must be an object, not {type(body).__name__}")],
        )
    return convert_opsconductor(body, file="request body")


@router.post("", status_code=201)
async def create_tool(
    catalog: CatalogDep, caller: EditorDep, body: Annotated[Any, Body()]
) -> ORJSONResponse:
    """The seed's ToolCreate, converted; 201 with the seed's ToolResponse and `warnings`
    (every conversion note: values changed on the way, fields kept in metadata)."""
    tool, report = await run_in_threadpool(_convert, body)
    cached = await catalog.create_tool(tool, actor=caller.actor)
    out = seed_tool(cached)
    out["warnings"] = report.notes
    out["kept_in_metadata"] = report.kept_in_metadata
    return ORJSONResponse(
        out, status_code=201, headers={"Location": f"/api/v1/tools/{cached.tool.name}"}
    )


router.add_api_route("/export", export_yaml, methods=["POST"])


@router.patch("/{tool_name}/enable")
async def enable_tool(catalog: CatalogDep, caller: EditorDep, tool_name: ToolName) -> Any:
    return seed_tool(await catalog.set_enabled(tool_name, True, actor=caller.actor))


@router.patch("/{tool_name}/disable")
async def disable_tool(catalog: CatalogDep, caller: EditorDep, tool_name: ToolName) -> Any:
    return seed_tool(await catalog.set_enabled(tool_name, False, actor=caller.actor))


@router.post("/{tool_name}/validate")
async def validate_tool(
    catalog: CatalogDep, _caller: ReaderDep, tool_name: ToolName
) -> ValidationOut:
    """Re-checks the stored definition: `valid`, `errors`, `warnings` as the seed's."""
    stored = await catalog.get_tool(tool_name)
    return validation_out(await check_definition(catalog, stored.tool.model_dump(mode="json")))


@named.put("/{tool_name}")
async def update_tool(
    catalog: CatalogDep,
    caller: EditorDep,
    tool_name: ToolName,
    body: Annotated[dict[str, Any], Body()],
    if_match: IfMatch = None,
) -> Any:
    """The seed's ToolUpdate: the fields given (not null) change, the rest stay. If-Match is
    honoured when sent (the ETag of GET /{tool_name}), never required."""
    unknown = sorted(set(body) - UPDATE_FIELDS)
    if unknown:
        takes = ", ".join(sorted(UPDATE_FIELDS))
        raise InvalidDefinition(
            f"{len(unknown)} field(s) an OpsConductor update does not take",
            [Problem(k, f"not an updatable field (updatable: {takes})") for k in unknown],
        )
    current = await catalog.get_tool(tool_name)
    patch = update_patch(body, current.tool)
    if not patch:
        return seed_tool(current)
    cached = await catalog.patch_tool(tool_name, patch, if_match=if_match, actor=caller.actor)
    return seed_tool(cached)


@named.delete("/{tool_name}", status_code=204)
async def delete_tool(
    catalog: CatalogDep,
    caller: EditorDep,
    tool_name: ToolName,
    version: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Removes the tool (admin), as the seed's DELETE did; `version` must be its current one
    (we keep one current version per tool; earlier ones are its history)."""
    caller.require(Role.admin, "deleting a tool through the OpsConductor API (it removes it)")
    if version is not None:
        current = await catalog.get_tool(tool_name)
        if current.tool.version not in (version, f"{version}.0", f"{version}.0.0"):
            raise NotFound(
                f"tool {tool_name!r} has no version {version!r} "
                f"(its current version is {current.tool.version!r})"
            )
    await catalog.delete_tool(tool_name, purge=True, actor=caller.actor)
    return Response(status_code=204)
