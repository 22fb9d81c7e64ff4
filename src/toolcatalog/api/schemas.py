"""Response models shared by several route modules, and the problem+json error responses
every route documents. Models used by one route module live in that module."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from toolcatalog.api.responses import PROBLEM_JSON
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.tool import Platform, Status

_ISO_HINT = "write an ISO 8601 time such as 2026-01-31T12:00:00Z"
_BARE_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _iso_only(value: Any) -> Any:
    # pydantic reads a bare number as a Unix time (`since=0.5` is 1970); people who send one
    # more likely meant something else, so it is refused rather than guessed.
    if isinstance(value, int | float) or (isinstance(value, str) and _BARE_NUMBER.match(value)):
        raise ValueError(f"{value!r} is a number, not a time; {_ISO_HINT}")
    return value


def _in_utc_range(value: datetime) -> datetime:
    """Naive times are UTC; the time must exist in UTC (PostgreSQL needs years 1..9999)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside years 1..9999 in UTC") from None


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_only),
    AfterValidator(_in_utc_range),
    Field(description="An ISO 8601 time; without an offset it is UTC."),
]


class ProblemItem(BaseModel):
    """One problem of a request: where (a JSON path) and what."""

    model_config = ConfigDict(extra="allow")

    path: str = Field(description="JSON path in the body, or the parameter name.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://toolcatalog.dev/problems/invalid_request",
                    "title": "Invalid request",
                    "status": 422,
                    "detail": "1 problem(s) in the request",
                    "request_id": "3f2c9a7e5d1b4c0a",
                    "errors": [{"path": "platform", "in": "body", "message": "..."}],
                }
            ]
        },
    )

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[ProblemItem] | None = None


_MEANING = {
    400: "Malformed JSON or YAML",
    401: "No API key, or an invalid or revoked one",
    403: "The API key's role is too low",
    404: "No such tool, version or key",
    409: "The name is taken",
    412: "If-Match does not match the current ETag: nothing was changed",
    413: "The body is over TOOLCATALOG_MAX_BODY_BYTES",
    415: "The body is not JSON",
    422: "The request or definition is invalid; `errors` gives each problem's JSON path",
    428: "If-Match is required (unless TOOLCATALOG_REQUIRE_IF_MATCH=false)",
    502: "The upstream (MCP server or OpenAPI URL) did not answer in time, or wrongly",
    503: "The database is unreachable",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer (problem+json)."""
    return {
        status: {
            "model": Problem,
            "description": _MEANING[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# What every route that reads the database may answer, and what a JSON body adds.
READ_ERRORS = (401, 403, 422, 503)
BODY_ERRORS = (400, 401, 403, 413, 415, 422, 503)

ETAG_HEADER = {"ETag": {"description": "The tool's current ETag", "schema": {"type": "string"}}}


class ToolSummary(BaseModel):
    name: str
    display_name: str | None
    version: str
    description: str
    platform: Platform
    category: str
    tags: list[str]
    status: Status
    enabled: bool
    capabilities: list[str]
    revision: int
    updated_at: datetime


def summarize(item: CachedTool) -> dict[str, Any]:
    if item.summary:
        summary: dict[str, Any] = orjson.loads(item.summary)
        return summary
    tool = item.tool
    return ToolSummary(
        name=tool.name,
        display_name=tool.display_name,
        version=tool.version,
        description=tool.description,
        platform=tool.platform,
        category=tool.category,
        tags=tool.tags,
        status=tool.status,
        enabled=tool.enabled,
        capabilities=[c.name for c in tool.capabilities],
        revision=item.revision,
        updated_at=item.updated_at,
    ).model_dump(mode="json")


ITEMS_DESCRIPTION = "ToolSummary objects, or full Tool definitions with fields=full."
CURSOR_DESCRIPTION = "Pass as `cursor` for the next page; null on the last page."


SUMMARY_EXAMPLE = {
    "name": "df",
    "display_name": "df",
    "version": "1.0.0",
    "description": "Report file system space usage per mount.",
    "platform": "linux",
    "category": "storage",
    "tags": ["disk"],
    "status": "active",
    "enabled": True,
    "capabilities": ["disk_usage"],
    "revision": 3,
    "updated_at": "2025-01-31T12:00:00Z",
}


def example(**fields: Any) -> ConfigDict:
    """A model config whose JSON Schema carries one example (shown in /docs)."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


class ToolPageOut(BaseModel):
    model_config = example(
        items=[SUMMARY_EXAMPLE], next_cursor="WyJkZiIsMC4wXQ", total=203, total_estimated=False
    )

    items: list[dict[str, Any]] = Field(description=ITEMS_DESCRIPTION)
    next_cursor: str | None = Field(description=CURSOR_DESCRIPTION)
    total: int
    total_estimated: bool = False


class ValidationOut(BaseModel):
    """The outcome of checking a definition; nothing is written."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "valid": False,
                    "errors": ["platform: Input should be 'linux', 'windows', ..."],
                    "warnings": [],
                    "problems": [{"path": "platform", "message": "Input should be ..."}],
                }
            ]
        }
    )

    valid: bool
    errors: list[str] = Field(description="Each problem as one line: `path: message`.")
    warnings: list[str] = Field(description="Valid but probably unintended.")
    problems: list[ProblemItem] = Field(description="The errors with their JSON paths.")
