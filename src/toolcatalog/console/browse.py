"""Browsing: the catalog list (filters, full-text search, keyset pages), a tool's page (its
capabilities, patterns, examples, versions and audit trail), the diff of two versions and,
for editors, rolling back to one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from toolcatalog.catalog.documents import diff_documents
from toolcatalog.catalog.keys import Role
from toolcatalog.console.rendering import ConsoleRoute, FragmentCache, render
from toolcatalog.console.session import Visitor, field, form_fields, reader, runtime_of
from toolcatalog.errors import InvalidDefinition, NotFound, Problem
from toolcatalog.model.fields import SNAKE_RE, TOOL_NAME_RE
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Platform, Status, Tool
from toolcatalog.selection.profiles import ObservedProfiles

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]

PAGE_SIZES = (10, 25, 50, 100)
AUDIT_ROWS = 20
VERSION_ROWS = 50  # the newest; older ones are reached by revision number in the diff page
_TOOL_NAME = re.compile(TOOL_NAME_RE)
_SNAKE = re.compile(SNAKE_RE)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,63}$")
FILTER_NAMES = ("q", "platform", "category", "capability", "tag", "status")
_CAPABILITIES = FragmentCache("capabilities.html")


@router.get("")
async def home() -> Response:
    return RedirectResponse("/ui/tools", status_code=303)


def parse_filters(params: Any) -> tuple[dict[str, str], list[Problem]]:
    """The list's filters from the query string, each checked the way the API checks it;
    a bad one is dropped and reported next to its field, never silently ignored."""
    given = {n: str(params.get(n, "")).strip() for n in FILTER_NAMES}
    problems: list[Problem] = []
    checks: dict[str, Callable[[str], bool]] = {
        "platform": lambda v: v in {p.value for p in Platform},
        "status": lambda v: v in {s.value for s in Status},
        "category": lambda v: bool(_SNAKE.match(v)),
        "capability": lambda v: bool(_SNAKE.match(v)),
        "tag": lambda v: bool(_TAG.match(v)),
        "q": lambda v: len(v) <= 500,
    }
    for name, ok in checks.items():
        value = given[name]
        if value and not ok(value):
            problems.append(Problem(name, f"{value[:80]!r} is not a valid {name}"))
            given[name] = ""
    return given, problems


@router.get("/tools")
async def tool_list(request: Request, who: Reader) -> Response:
    given, problems = parse_filters(request.query_params)
    try:
        limit = int(request.query_params.get("limit", "25"))
    except ValueError:
        limit = 25
    limit = limit if limit in PAGE_SIZES else 25
    cursor = request.query_params.get("cursor") or None
    filters = ToolFilter(
        platform=given["platform"] or None,
        category=given["category"] or None,
        status=given["status"] or None,
        tags=(given["tag"],) if given["tag"] else (),
        capability=given["capability"] or None,
        q=given["q"] or None,
    )
    page = None
    try:
        page = await runtime_of(request).catalog.list_tools(filters, limit=limit, cursor=cursor)
    except InvalidDefinition as exc:  # an unknown capability, a cursor not ours
        problems += exc.problems or [Problem("", exc.detail)]
    kept = {k: v for k, v in given.items() if v}
    if limit != 25:
        kept["limit"] = str(limit)
    return render(
        request,
        "tools.html",
        {
            "who": who,
            "filters": given,
            "kept": kept,
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "platforms": [p.value for p in Platform],
            "statuses": [s.value for s in Status],
            "page": page,
            "cursor": cursor,
            "problems": problems,
        },
        status=422 if problems and page is None else 200,
    )


def observed_rows(observed: ObservedProfiles | None, tool: Tool) -> list[dict[str, Any]]:
    """Declared against observed figures of each pattern telemetry has seen, from the
    selector's in-memory copy (refreshed in the background; no query per page)."""
    if observed is None:
        return []
    rows = []
    for cap in tool.capabilities:
        for pattern in cap.patterns:
            seen = observed.get(tool.name, cap.name, pattern.name)
            if seen is None:
                continue
            rows.append(
                {
                    "capability": cap.name,
                    "pattern": pattern.name,
                    "declared_ms": _figure(pattern.profile.time_estimate_ms),
                    "declared_cost": _figure(pattern.profile.cost_estimate),
                    "seen": seen,
                    "weight": observed.rules.weight(seen.samples),
                }
            )
    return rows


def _figure(value: float | str) -> str:
    """A declared estimate: a number as written (50, not 50.0), or its expression."""
    return f"{value:g}" if isinstance(value, int | float) else value


def check_name(name: str) -> str:
    if not _TOOL_NAME.match(name):
        raise NotFound(f"no tool is named {name[:100]!r}")
    return name


@router.get("/tools/{name}")
async def tool_page(request: Request, name: str, who: Reader) -> Response:
    catalog = runtime_of(request).catalog
    cached = await catalog.get_tool(check_name(name))
    versions = await catalog.version_summaries(name, limit=VERSION_ROWS)
    audit = await catalog.audit(tool_name=name, limit=AUDIT_ROWS)
    capabilities = _CAPABILITIES.get(
        (name, cached.etag), {"tool": cached.tool, "as_json": json_text}
    )
    return render(
        request,
        "tool.html",
        {
            "who": who,
            "cached": cached,
            "tool": cached.tool,
            "versions": versions,
            "version_rows": VERSION_ROWS,
            "audit": audit,
            "capabilities_html": capabilities,
            "observed": observed_rows(runtime_of(request).selector.observed, cached.tool),
            "as_json": json_text,
        },
    )


def json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _revision(value: str, what: str) -> int:
    try:
        revision = int(value)
    except ValueError:
        revision = 0
    if not 1 <= revision <= 2_147_483_647:
        raise InvalidDefinition(
            f"{what} must be a revision number", [Problem(what, "pick a version")]
        )
    return revision


@router.get("/tools/{name}/diff")
async def diff_page(request: Request, name: str, who: Reader) -> Response:
    catalog = runtime_of(request).catalog
    current = await catalog.get_tool(check_name(name))
    params = request.query_params
    before = _revision(params.get("from", ""), "from")
    after = _revision(params.get("to") or str(current.revision), "to")
    # Two versions by number, not the whole history (a tool may have thousands).
    definitions = {
        revision: (await catalog.version(name, revision)).definition
        for revision in dict.fromkeys((before, after))
    }
    changes = diff_documents(definitions[before], definitions[after])
    return render(
        request,
        "diff.html",
        {
            "who": who,
            "name": name,
            "before": before,
            "after": after,
            "changes": changes,
            "as_json": json_text,
        },
    )


@router.post("/tools/{name}/rollback")
async def roll_back(request: Request, name: str, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.editor, "rolling back a tool")
    revision = _revision(field(fields, "revision"), "revision")
    await runtime_of(request).catalog.roll_back_tool(
        check_name(name), revision, actor=who.actor, if_match=fields.get("etag") or None
    )
    return RedirectResponse(f"/ui/tools/{name}", status_code=303)
