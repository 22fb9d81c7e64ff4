"""Many tools at once under /api/v1/tools: bulk writes, the seed platform's YAML import and
export, and checking a definition without writing it.

Every write here is one transaction (the service's import_definitions): all or nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep, RuntimeDep
from toolcatalog.api.problems import problem
from toolcatalog.api.routes.tool import validation_out
from toolcatalog.api.routes.tools import TOOL_EXAMPLE
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    BODY_ERRORS,
    ValidationOut,
    example,
    problems,
)
from toolcatalog.api.yaml_input import TooManyTools, UnsafeYaml, parse_tools_yaml
from toolcatalog.catalog.checks import check_definition
from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.dump import dump_tools
from toolcatalog.model.tool import Tool

router = APIRouter(prefix="/api/v1/tools", tags=["catalog"], route_class=ORJSONRoute)


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each tool is validated as a Tool in a worker thread (`_validate_tools`), not here: FastAPI
    # validates bodies on the event loop, and ~3,500 tools in a 1 MiB body took about a second
    # there, stalling every other request on the worker. The schema still says Tool.
    tools: list[dict[str, Any]] = Field(
        min_length=1, json_schema_extra={"items": {"$ref": "#/components/schemas/Tool"}}
    )
    dry_run: bool = Field(False, description="Run the whole transaction, then roll it back.")
    overwrite: bool = Field(True, description="Update tools that exist (else skip them).")


class BulkOut(BaseModel):
    model_config = example(
        created=["df"], updated=["du"], unchanged=[], skipped=[], dry_run=False, generation=42
    )

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[str]
    dry_run: bool
    generation: int | None = Field(description="The catalog generation after the write.")


@router.post(
    "/bulk",
    summary="Create or update many tools in one transaction",
    description="Needs an editor key. All or nothing, idempotent (unchanged tools are left "
    "alone), like `toolcatalog import`. An invalid tool fails the whole request with 422.",
    response_model=BulkOut,
    responses=problems(*BODY_ERRORS),
)
async def bulk(
    runtime: RuntimeDep,
    caller: EditorDep,
    body: Annotated[BulkIn, Body(openapi_examples={"one": {"value": {"tools": [TOOL_EXAMPLE]}}})],
) -> BulkOut:
    limit = runtime.settings.import_max_tools
    if len(body.tools) > limit:
        raise TooManyTools(len(body.tools), limit, "tools")
    tools = await run_in_threadpool(_validate_tools, body.tools)
    report = await runtime.catalog.import_definitions(
        tools, actor=caller.actor, overwrite=body.overwrite, dry_run=body.dry_run
    )
    return BulkOut(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=report.skipped,
        dry_run=report.dry_run,
        generation=report.generation,
    )


_TOOLS = TypeAdapter(list[Tool])


def _validate_tools(documents: list[dict[str, Any]]) -> list[Tool]:
    """The bulk body's tools as models (in a worker thread); problems are reported like
    FastAPI's own body validation, with paths under `tools`."""
    try:
        return _TOOLS.validate_python(documents)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", "tools", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


class ImportIn(BaseModel):
    yaml_content: str = Field(description="One tool, a list of tools, or `{tools: [...]}`.")
    overwrite: bool = Field(False, description="Update tools that exist (else skip them).")
    validate_only: bool = Field(False, description="Check everything; write nothing.")


class ImportFailure(BaseModel):
    tool: str = Field(description="The tool's name, or its position `[i]` in the document.")
    error: str
    path: str = ""
    line: int | None = None


class ImportOut(BaseModel):
    model_config = example(
        success=False,
        imported_count=0,
        failed_count=1,
        errors=[{"tool": "du", "error": "Input should be 'linux', ...", "path": "[1].platform",
                 "line": 14}],
        warnings=[],
    )  # fmt: skip

    success: bool
    imported_count: int
    failed_count: int
    errors: list[ImportFailure]
    warnings: list[str]


_IMPORT_EXAMPLE = {
    "yaml_content": "- name: df\n  description: Report file system space usage.\n"
    "  platform: linux\n  category: storage\n  capabilities:\n  - name: disk_usage\n"
    "    description: Space per mount.\n    patterns:\n    - name: summary\n"
    "      description: df -h over all mounts.\n",
    "overwrite": True,
    "validate_only": False,
}


@router.post(
    "/import",
    summary="Import tools from YAML (seed-compatible)",
    description="Needs an editor key. Many tools per document, in one transaction: if any is "
    "invalid nothing is imported and the answer says why (`success: false`, with paths and "
    "lines). YAML anchors and aliases are refused. 400 if the YAML does not parse.",
    response_model=ImportOut,
    responses=problems(*BODY_ERRORS),
)
async def import_yaml(
    runtime: RuntimeDep,
    caller: EditorDep,
    body: Annotated[ImportIn, Body(openapi_examples={"df": {"value": _IMPORT_EXAMPLE}})],
) -> Any:
    try:
        parsed = await run_in_threadpool(
            parse_tools_yaml, body.yaml_content, runtime.settings.import_max_tools
        )
    except UnsafeYaml as exc:
        errors = [
            {"path": "yaml_content", "message": p.message} | ({"line": p.line} if p.line else {})
            for p in exc.problems
        ]
        return problem(400, "Invalid YAML", exc.detail, code="invalid_yaml", errors=errors)
    if parsed.failures:
        return ImportOut(
            success=False,
            imported_count=0,
            failed_count=parsed.failed_count,
            errors=[ImportFailure(**f) for f in parsed.failures],
            warnings=parsed.warnings,
        )
    try:
        report = await runtime.catalog.import_definitions(
            parsed.tools, actor=caller.actor, overwrite=body.overwrite, dry_run=body.validate_only
        )
    except InvalidDefinition as exc:
        failures = [ImportFailure(tool="", error=p.message, path=p.path) for p in exc.problems]
        return ImportOut(
            success=False,
            imported_count=0,
            failed_count=len(parsed.tools),
            errors=failures or [ImportFailure(tool="", error=exc.detail)],
            warnings=parsed.warnings,
        )
    warnings = parsed.warnings + [
        f"{name}: exists; skipped (send overwrite: true to replace it)" for name in report.skipped
    ]
    done = len(report.created) + len(report.updated) + len(report.unchanged)
    if body.validate_only:
        warnings.append(
            f"validate only: nothing was written (would create {len(report.created)}, "
            f"update {len(report.updated)}, leave {len(report.unchanged)} unchanged)"
        )
    return ImportOut(
        success=True,
        imported_count=0 if body.validate_only else done,
        failed_count=0,
        errors=[],
        warnings=warnings,
    )


class ExportOut(BaseModel):
    model_config = example(
        success=True, tool_count=1, yaml_content="- name: df\n  version: 1.0.0\n  ...\n",
        not_found=[],
    )  # fmt: skip

    success: bool = Field(description="False when a requested tool does not exist.")
    tool_count: int
    yaml_content: str = Field(description="A YAML list of tools that /import takes back.")
    not_found: list[str] = Field(default_factory=list)


@router.post(
    "/export",
    summary="Export tools as YAML (seed-compatible)",
    description="The body is a JSON list of tool names; empty (or no body) exports them all.",
    response_model=ExportOut,
    responses=problems(*BODY_ERRORS),
)
async def export_yaml(
    catalog: CatalogDep,
    _caller: ReaderDep,
    names: Annotated[
        list[Annotated[str, Field(max_length=200)]] | None,
        Body(max_length=10_000, openapi_examples={"two": {"value": ["df", "du"]}}),
    ] = None,
) -> ExportOut:
    version = await catalog.catalog_version()
    wanted = list(dict.fromkeys(names or []))
    if wanted:
        # The version's entries by name (the snapshot's table by name was a walk of every
        # tool once a snapshot, on the loop).
        tools = [version.entries[n].tool for n in wanted if n in version.entries]
        missing = [n for n in wanted if n not in version.entries]
    else:
        tools, missing = list(version.snapshot.tools), []
    text = await run_in_threadpool(dump_tools, tools)
    return ExportOut(
        success=not missing, tool_count=len(tools), yaml_content=text, not_found=missing
    )


@router.post(
    "/validate",
    summary="Check a tool definition (writes nothing)",
    description="Invalid definitions are an answer (`valid: false` with each problem's JSON "
    "path), not an error; `warnings` flag what is valid but probably unintended.",
    response_model=ValidationOut,
    responses=problems(*BODY_ERRORS),
)
async def validate(
    catalog: CatalogDep,
    _caller: ReaderDep,
    definition: Annotated[Any, Body(openapi_examples={"df": {"value": TOOL_EXAMPLE}})],
) -> ValidationOut:
    return validation_out(await check_definition(catalog, definition))
