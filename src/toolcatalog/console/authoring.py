"""Authoring (editors): a new tool from a skeleton or from an existing tool, editing a tool
as YAML with live validation, a preview of the diff, and saving with If-Match. A save that
lost a race (412) shows the other edit and keeps the visitor's text: nothing is lost.

Each editor page is one form; its buttons say what to do (validate, preview, save), so it
works without JavaScript; htmx only re-checks the draft while typing (POST /ui/check)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from toolcatalog.catalog.checks import DefinitionCheck
from toolcatalog.catalog.documents import canonical_definition, diff_documents
from toolcatalog.catalog.keys import Role
from toolcatalog.console.browse import check_name, json_text
from toolcatalog.console.drafts import SKELETONS, check_draft, copy_of
from toolcatalog.console.rendering import ConsoleRoute, render
from toolcatalog.console.session import Visitor, form_fields, reader, runtime_of
from toolcatalog.errors import Conflict, PreconditionFailed, Problem
from toolcatalog.formats.dump import dump_tool

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]
ACTIONS = ("validate", "preview", "save")


def _editor(request: Request, who: Visitor, *, status: int = 200, **context: Any) -> Response:
    defaults: dict[str, Any] = {
        "who": who, "name": None, "etag": "", "revision": "", "checked": None,
        "changes": None, "conflict": None, "skeletons": list(SKELETONS), "as_json": json_text,
    }  # fmt: skip
    return render(request, "edit.html", {**defaults, **context}, status=status)


@router.get("/new")
async def new_page(request: Request, who: Reader) -> Response:
    who.require(Role.editor, "creating a tool")
    source = request.query_params.get("from", "")
    if source:
        cached = await runtime_of(request).catalog.get_tool(check_name(source))
        text = copy_of(cached.tool)
    else:
        kind = request.query_params.get("template", "command")
        text = SKELETONS.get(kind, SKELETONS["command"])
    return _editor(request, who, text=text)


@router.post("/new")
async def create(request: Request, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.editor, "creating a tool")
    text = fields.get("yaml", "")
    catalog = runtime_of(request).catalog
    checked = await check_draft(catalog, text)
    action = fields.get("action", "save")
    if checked.tool is None or action != "save":
        changes = _changes({}, checked) if action == "preview" else None
        status = 422 if checked.tool is None else 200
        return _editor(request, who, text=text, checked=checked, changes=changes, status=status)
    try:
        await catalog.create_tool(checked.tool, actor=who.actor)
    except Conflict as exc:
        refused = DefinitionCheck(None, [Problem("name", exc.detail)], checked.warnings)
        return _editor(request, who, text=text, checked=refused, status=409)
    return RedirectResponse(f"/ui/tools/{checked.tool.name}", status_code=303)


@router.get("/tools/{name}/edit")
async def edit_page(request: Request, name: str, who: Reader) -> Response:
    who.require(Role.editor, "editing a tool")
    cached = await runtime_of(request).catalog.get_tool(check_name(name))
    return _editor(
        request,
        who,
        name=name,
        text=dump_tool(cached.tool),
        etag=cached.etag,
        revision=cached.revision,
    )


@router.post("/tools/{name}/edit")
async def save(request: Request, name: str, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.editor, "editing a tool")
    catalog = runtime_of(request).catalog
    text, etag, base = fields.get("yaml", ""), fields.get("etag", ""), fields.get("revision", "")
    checked = await check_draft(catalog, text, name=check_name(name))
    action = fields.get("action", "save")
    form: dict[str, Any] = {
        "name": name,
        "text": text,
        "etag": etag,
        "revision": base,
        "checked": checked,
    }
    if checked.tool is None:
        return _editor(request, who, status=422, **form)
    if action == "validate":
        return _editor(request, who, **form)
    stored = await catalog.get_tool(name)
    if action == "preview":
        changes = _changes(canonical_definition(stored.tool), checked)
        return _editor(request, who, changes=changes, **form)
    try:
        await catalog.replace_tool(name, checked.tool, if_match=etag or None, actor=who.actor)
    except PreconditionFailed:
        return await _conflict(request, who, form, base)
    return RedirectResponse(f"/ui/tools/{name}", status_code=303)


async def _conflict(request: Request, who: Visitor, form: dict[str, Any], base: str) -> Response:
    """The tool changed since the visitor opened it: show what the other edit changed (from
    the revision they started from to the current one) and how theirs differs from the
    current one, keep their text, and take the current ETag so a second save is deliberate."""
    catalog = runtime_of(request).catalog
    name = form["name"]
    current = await catalog.get_tool(name)
    other: list[dict[str, Any]] = []
    if base.isdigit() and 0 < int(base) < current.revision:
        other = await catalog.diff(name, int(base), current.revision)
    conflict = {
        "revision": current.revision,
        "other": other,
        "mine": _changes(canonical_definition(current.tool), form["checked"]),
        "current_yaml": dump_tool(current.tool),
    }
    form = {**form, "etag": current.etag, "revision": current.revision}
    return _editor(request, who, status=412, conflict=conflict, **form)


def _changes(before: dict[str, Any], checked: DefinitionCheck) -> list[dict[str, Any]]:
    assert checked.tool is not None
    return diff_documents(before, canonical_definition(checked.tool))


@router.post("/check")
async def check(request: Request, who: Reader) -> Response:
    """The draft's problems and warnings, for the editor's live validation."""
    fields = await form_fields(request, who)
    name = fields.get("name") or None
    checked = await check_draft(runtime_of(request).catalog, fields.get("yaml", ""), name=name)
    return render(request, "validation.html", {"who": who, "checked": checked})
