"""History: a tool's versions, diffs between them, rollback, and the audit log.

Versions are numbered revisions (1, 2, ...) of the full definition; a rollback appends a copy
of an old revision, so history is never rewritten. The audit log records every write, with
actor, request id, client address and a structured diff, and outlives purged tools.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep
from toolcatalog.api.routes.tool import IfMatch, Name
from toolcatalog.api.routes.tools import TOOL_EXAMPLE, tool_response
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import (
    BODY_ERRORS,
    ETAG_HEADER,
    READ_ERRORS,
    Timestamp,
    example,
    problems,
)
from toolcatalog.errors import InvalidDefinition, Problem, StoredDefinitionInvalid
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.fields import TOOL_NAME_RE
from toolcatalog.model.history import AuditRecord, VersionRecord
from toolcatalog.model.tool import Tool

router = APIRouter(prefix="/api/v1", tags=["history"], route_class=ORJSONRoute)

Revision = Annotated[int, Path(ge=1, le=2_147_483_647, description="A revision number.")]
AuditAction = Literal[
    "create", "update", "patch", "delete", "purge", "rollback", "enable", "disable", "import",
    "key_create", "key_revoke", "reload", "environment",
]  # fmt: skip
_CHANGES = (
    "Structured diff: `{op: add|remove|change|reorder, path, from?, to?}` per change; paths "
    "are JSON paths, capabilities and patterns are matched by name (`capabilities[disk_usage]`)."
)


_WHEN = "2025-01-31T12:00:00Z"


class VersionSummary(BaseModel):
    revision: int
    version: str = Field(description="The definition's semantic version at that revision.")
    actor: str
    action: str
    comment: str | None
    created_at: datetime


class VersionList(BaseModel):
    model_config = example(
        tool_name="df",
        versions=[
            {"revision": 1, "version": "1.0.0", "actor": "ci-bot", "action": "create",
             "comment": None, "created_at": _WHEN},
            {"revision": 2, "version": "1.0.1", "actor": "alice", "action": "patch",
             "comment": None, "created_at": _WHEN},
        ],
        total_versions=2,
    )  # fmt: skip

    tool_name: str
    versions: list[VersionSummary]
    total_versions: int


class VersionDetail(VersionSummary):
    model_config = example(
        tool_name="df", revision=1, version="1.0.0", actor="ci-bot", action="create",
        comment=None, created_at=_WHEN, definition=TOOL_EXAMPLE,
    )  # fmt: skip

    tool_name: str
    definition: Tool


class DiffOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "tool_name": "df",
                    "from": 1,
                    "to": 2,
                    "changes": [
                        {"op": "change", "path": "description", "from": "Old.", "to": "New."}
                    ],
                }
            ]
        },
    )

    tool_name: str
    from_revision: int = Field(alias="from")
    to_revision: int = Field(alias="to")
    changes: list[dict[str, Any]] = Field(description=_CHANGES)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2_147_483_647, description="The revision to make current.")


class AuditEntry(BaseModel):
    id: int
    occurred_at: datetime
    actor: str = Field(description="The API key's name, or `anonymous`, `cli`, ...")
    action: str
    tool_name: str | None
    revision_before: int | None
    revision_after: int | None
    diff: list[dict[str, Any]] = Field(description=_CHANGES)
    request_id: str | None
    client_address: str | None


class AuditPage(BaseModel):
    model_config = example(
        items=[
            {"id": 812, "occurred_at": _WHEN, "actor": "ci-bot", "action": "patch",
             "tool_name": "df", "revision_before": 2, "revision_after": 3,
             "diff": [{"op": "change", "path": "owner", "from": "sre", "to": "storage"}],
             "request_id": "3f2c9a7e5d1b4c0a", "client_address": "10.0.0.7"}
        ],
        next_cursor="YXVkaXQ6ODEy",
    )  # fmt: skip

    items: list[AuditEntry] = Field(description="Newest first.")
    next_cursor: str | None


def _summary(v: VersionRecord) -> dict[str, Any]:
    return {
        "revision": v.revision,
        "version": str(v.definition.get("version", "")),
        "actor": v.actor,
        "action": v.action,
        "comment": v.comment,
        "created_at": v.created_at,
    }


@router.get(
    "/tools/{name}/versions",
    summary="A tool's versions, oldest first",
    response_model=VersionList,
    responses=problems(*READ_ERRORS, 404),
)
async def list_versions(name: Name, catalog: CatalogDep, _caller: ReaderDep) -> VersionList:
    versions = await catalog.versions(name)
    return VersionList(
        tool_name=name,
        versions=[VersionSummary(**_summary(v)) for v in versions],
        total_versions=len(versions),
    )


@router.get(
    "/tools/{name}/versions/{revision}",
    summary="One version of a tool, with its full definition",
    response_model=VersionDetail,
    responses=problems(*READ_ERRORS, 404),
)
async def get_version(
    name: Name, revision: Revision, catalog: CatalogDep, _caller: ReaderDep
) -> Any:
    v = await catalog.version(name, revision)
    try:
        definition = Tool.model_validate(v.definition)
    except ValidationError as exc:  # kept from before a rule was tightened (catalog/stored.py)
        first = problems_from_validation(exc)[0]
        raise StoredDefinitionInvalid(
            f"version {revision} of {name!r} no longer validates ({first}); "
            "it cannot be served or rolled back to"
        ) from None
    return VersionDetail(tool_name=name, definition=definition, **_summary(v))


@router.get(
    "/tools/{name}/diff",
    summary="What changed between two versions",
    response_model=DiffOut,
    responses=problems(*READ_ERRORS, 404),
)
async def diff_versions(
    name: Name,
    catalog: CatalogDep,
    _caller: ReaderDep,
    from_revision: Annotated[int, Query(alias="from", ge=1, le=2_147_483_647)],
    to_revision: Annotated[
        int | None, Query(alias="to", ge=1, le=2_147_483_647, description="Default: current.")
    ] = None,
) -> Any:
    if to_revision is None:
        to_revision = (await catalog.versions(name))[-1].revision
    changes = await catalog.diff(name, from_revision, to_revision)
    return DiffOut(
        tool_name=name, from_revision=from_revision, to_revision=to_revision, changes=changes
    )


@router.post(
    "/tools/{name}/rollback",
    summary="Make an old version current again",
    description="Needs an editor key. Appends a new revision equal to `version`; history is "
    "never rewritten. Honours If-Match.",
    response_model=Tool,
    responses={
        200: {"description": "The stored definition", "headers": ETAG_HEADER},
        **problems(*BODY_ERRORS, 404, 412),
    },
)
async def roll_back(
    name: Name,
    catalog: CatalogDep,
    caller: EditorDep,
    body: Annotated[RollbackIn, Body(openapi_examples={"first": {"value": {"version": 1}}})],
    if_match: IfMatch = None,
) -> Response:
    cached = await catalog.roll_back_tool(name, body.version, actor=caller.actor, if_match=if_match)
    return tool_response(cached)


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{entry_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "audit" and value.isdigit() and len(value) <= 19 and int(value) < 2**63:
            return int(value)  # ids are bigint: a larger one is not ours
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidDefinition(
        "the cursor is not one this server made",
        [Problem("cursor", "pass back the next_cursor of the previous page unchanged")],
    )


async def _audit_page(
    catalog: CatalogDep,
    *,
    limit: int,
    cursor: str | None,
    **filters: Any,
) -> AuditPage:
    before_id = _decode_cursor(cursor) if cursor else None
    rows: list[AuditRecord] = await catalog.audit(limit=limit + 1, before_id=before_id, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntry(**{k: getattr(r, k) for k in AuditEntry.model_fields}) for r in rows],
        next_cursor=_encode_cursor(rows[-1].id) if more else None,
    )


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200, description="The previous next_cursor.")]
Since = Annotated[Timestamp | None, Query(description="Only entries at or after this time.")]
ActorFilter = Annotated[str | None, Query(max_length=200)]


@router.get(
    "/tools/{name}/audit",
    summary="A tool's audit trail, newest first",
    description="Kept after the tool is purged; an unknown name has an empty trail.",
    response_model=AuditPage,
    tags=["audit"],
    responses=problems(*READ_ERRORS),
)
async def tool_audit(
    name: Name,
    catalog: CatalogDep,
    _caller: ReaderDep,
    action: AuditAction | None = None,
    actor: ActorFilter = None,
    since: Since = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    return await _audit_page(
        catalog, limit=limit, cursor=cursor, tool_name=name, action=action, actor=actor,
        since=since,
    )  # fmt: skip


@router.get(
    "/audit",
    summary="The audit log, newest first",
    response_model=AuditPage,
    tags=["audit"],
    responses=problems(*READ_ERRORS),
)
async def audit_log(
    catalog: CatalogDep,
    _caller: ReaderDep,
    actor: ActorFilter = None,
    action: AuditAction | None = None,
    tool: Annotated[str | None, Query(pattern=TOOL_NAME_RE)] = None,
    since: Since = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    return await _audit_page(
        catalog, limit=limit, cursor=cursor, tool_name=tool, action=action, actor=actor,
        since=since,
    )  # fmt: skip
