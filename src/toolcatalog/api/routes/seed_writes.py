"""The OpsConductor (seed) platform's write routes, in its shapes: create (its request body,
converted by the same converter as `toolcatalog import --format opsconductor`), import (its
YAML, the same way), update, delete, enable/disable, validate and export. Mounted as
api/routes/seed.py says.

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
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.problems import problem
from toolcatalog.api.responses import ORJSONResponse
from toolcatalog.api.routes.catalog_io import ImportFailure, ImportIn, ImportOut, export_yaml
from toolcatalog.api.routes.seed_reads import seed_router
from toolcatalog.api.routes.tool import IfMatch, validation_out
from toolcatalog.api.schemas import ValidationOut
from toolcatalog.api.seed_shapes import seed_tool, update_patch
from toolcatalog.api.yaml_input import MAX_REPORTED_FAILURES, UnsafeYaml, parse_yaml_data
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


def _seed_documents(data: Any) -> list[Any]:
    """The seed imported one tool per document; a list of them, or `{tools: [...]}`, too."""
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        return list(data["tools"])
    return data if isinstance(data, list) else [data]


def _convert_all(text: str, max_tools: int) -> tuple[list[Tool], list[ImportFailure], list[str]]:
    tools, failures, warnings = [], [], []
    for i, doc in enumerate(_seed_documents(parse_yaml_data(text, max_tools))):
        label = doc.get("tool_name") if isinstance(doc, dict) else None
        label = label if isinstance(label, str) else f"[{i}]"
        try:
            tool, report = _convert(doc)
        except InvalidDefinition as exc:
            failures += [ImportFailure(tool=label, error=p.message, path=p.path)
                         for p in exc.problems]  # fmt: skip
            continue
        tools.append(tool)
        warnings += [f"{tool.name}: {note}" for note in report.notes]
    return tools, failures, warnings


@router.post("/import")
async def import_tools(runtime: RuntimeDep, caller: EditorDep, body: ImportIn) -> Any:
    """The seed's bulk import: `yaml_content` holds seed tools (its API shape or its files'),
    converted like `POST ""`; all or nothing, in one transaction. As in the seed, an existing
    tool without `overwrite` is an error (here: nothing is imported), unless it is identical
    (importing twice is harmless)."""
    try:
        tools, failures, warnings = await run_in_threadpool(
            _convert_all, body.yaml_content, runtime.settings.import_max_tools
        )
    except UnsafeYaml as exc:
        errors = [{"path": "yaml_content", "message": p.message} for p in exc.problems]
        return problem(400, "Invalid YAML", exc.detail, code="invalid_yaml", errors=errors)
    if not failures:
        report = await runtime.catalog.import_definitions(
            tools, actor=caller.actor, overwrite=body.overwrite, dry_run=True
        )
        failures = [
            ImportFailure(tool=name, error="Tool already exists (use overwrite=true to replace)")
            for name in report.skipped
        ]
        warnings += [f"{name}: exists, identical; left as it is" for name in report.unchanged]
    if failures:
        failed = len({f.tool for f in failures})
        listed = failures[:MAX_REPORTED_FAILURES]
        if len(failures) > len(listed):
            warnings.append(f"{len(failures) - len(listed)} more problems not listed")
        return ImportOut(success=False, imported_count=0, failed_count=failed,
                         errors=listed, warnings=warnings)  # fmt: skip
    if body.validate_only:
        warnings.append("Validation only - no tools imported")
    else:
        report = await runtime.catalog.import_definitions(
            tools, actor=caller.actor, overwrite=body.overwrite
        )
        warnings += [f"{name}: created meanwhile by another writer; left as it is"
                     for name in report.skipped]  # fmt: skip
    # Honest: tools created or changed, not the unchanged ones (listed in the warnings).
    count = 0 if body.validate_only else report.changed
    return ImportOut(success=True, imported_count=count, failed_count=0, errors=[],
                     warnings=warnings)  # fmt: skip


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
