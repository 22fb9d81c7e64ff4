"""Authoring (editors): a new tool from a skeleton or from an existing tool, editing a tool
as YAML with live validation, a preview of the diff, and saving with If-Match. A save that
lost a race (412) shows the other edit and keeps the visitor's text: nothing is lost.

Each editor page is one form; its buttons say what to do (validate, preview, save), so it
works without JavaScript; htmx only re-checks the draft while typing (POST /ui/check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from toolcatalog.catalog.checks import DefinitionCheck
from toolcatalog.catalog.documents import canonical_definition, diff_documents
from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.views import CachedTool
from toolcatalog.console.browse import check_name, json_text
from toolcatalog.console.drafts import SKELETONS, check_draft, copy_of
from toolcatalog.console.rendering import ConsoleRoute, render
from toolcatalog.console.session import Visitor, form_fields, reader, runtime_of
from toolcatalog.errors import Conflict, PreconditionFailed, Problem
from toolcatalog.formats.dump import dump_tool

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]
ACTIONS = ("validate", "preview", "save")


def yaml_editor(request: Request, who: Visitor, *, status: int = 200, **context: Any) -> Response:
    defaults: dict[str, Any] = {
        "who": who, "name": None, "etag": "", "revision": "", "checked": None,
        "changes": None, "conflict": None, "generated": None, "skeletons": list(SKELETONS),
        "as_json": json_text,
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
    return yaml_editor(request, who, text=text)


@router.post("/new")
async def create(request: Request, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.editor, "creating a tool")
    text = fields.get("yaml", "")
    checked = await check_draft(runtime_of(request).catalog, text)
    draft = Draft(None, fields.get("action", "save"), "", "")
    return await submit(request, who, draft, checked, partial(_yaml_view, text=text))


def _yaml_view(request: Request, who: Visitor, status: int, text: str, **context: Any) -> Response:
    return yaml_editor(request, who, status=status, text=text, **context)


@router.get("/tools/{name}/edit")
async def edit_page(request: Request, name: str, who: Reader) -> Response:
    who.require(Role.editor, "editing a tool")
    cached = await runtime_of(request).catalog.get_tool(check_name(name))
    return yaml_editor(
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
    text = fields.get("yaml", "")
    checked = await check_draft(runtime_of(request).catalog, text, name=check_name(name))
    draft = Draft(name, fields.get("action", "save"), fields.get("etag", ""),
                  fields.get("revision", ""))  # fmt: skip
    return await submit(request, who, draft, checked, partial(_yaml_view, text=text))


@dataclass(frozen=True, slots=True)
class Draft:
    """What an editor's form posted besides the definition: the tool edited (None: a new
    tool), the button pressed, and the ETag and revision the page was opened on."""

    name: str | None
    action: str
    etag: str
    revision: str


View = Callable[..., Response]


async def submit(
    request: Request, who: Visitor, draft: Draft, checked: DefinitionCheck, view: View
) -> Response:
    """Validate, preview or save a checked draft (one path for the YAML editor and the
    form); `view(request, who, status, **context)` renders the editor the draft came from."""
    catalog = runtime_of(request).catalog
    form: dict[str, Any] = {"name": draft.name, "etag": draft.etag, "revision": draft.revision,
                            "checked": checked}  # fmt: skip
    if checked.tool is None:
        return view(request, who, 422, **form)
    if draft.action not in ("preview", "save"):
        return view(request, who, 200, **form)
    stored = await catalog.get_tool(draft.name) if draft.name else None
    if draft.action == "preview":
        before = canonical_definition(stored.tool) if stored else {}
        return view(request, who, 200, changes=_changes(before, checked), **form)
    try:
        if draft.name is None:
            await catalog.create_tool(checked.tool, actor=who.actor)
        else:
            await catalog.replace_tool(
                draft.name, checked.tool, if_match=draft.etag or None, actor=who.actor
            )
    except Conflict as exc:
        refused = DefinitionCheck(None, [Problem("name", exc.detail)], checked.warnings)
        return view(request, who, 409, **{**form, "checked": refused})
    except PreconditionFailed:
        conflict, current = await _conflict(catalog, draft, checked)
        form.update(etag=current.etag, revision=current.revision)
        return view(request, who, 412, conflict=conflict, **form)
    return RedirectResponse(f"/ui/tools/{checked.tool.name}", status_code=303)


async def _conflict(
    catalog: ToolCatalogService, draft: Draft, checked: DefinitionCheck
) -> tuple[dict[str, Any], CachedTool]:
    """The tool changed since the visitor opened it: what the other edit changed (from the
    revision they started from to the current one) and how theirs differs from the current
    one. The page keeps their draft and takes the current ETag, so a second save is
    deliberate."""
    assert draft.name is not None
    current = await catalog.get_tool(draft.name)
    other: list[dict[str, Any]] = []
    base = draft.revision
    if base.isdigit() and 0 < int(base) < current.revision:
        other = await catalog.diff(draft.name, int(base), current.revision)
    conflict = {
        "revision": current.revision,
        "other": other,
        "mine": _changes(canonical_definition(current.tool), checked),
        "current_yaml": dump_tool(current.tool),
    }
    return conflict, current


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
