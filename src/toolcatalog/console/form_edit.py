"""Editing a tool as a form, beside the YAML editor: the fields come from the JSON Schema
(form_schema), each problem shows at its field, and validating, previewing and saving (with
If-Match; a 412 shows the other edit and keeps the form) take the YAML editor's path
(authoring.submit). Without JavaScript every button posts the whole form; htmx re-checks it
while typing. Both editors switch to the other with the draft as it stands."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from toolcatalog.catalog.checks import DefinitionCheck
from toolcatalog.catalog.keys import Role
from toolcatalog.console.authoring import Draft, submit, yaml_editor
from toolcatalog.console.browse import check_name, json_text
from toolcatalog.console.drafts import SKELETONS, check_document, parse_draft
from toolcatalog.console.form_values import (
    FormNode,
    PostedForm,
    add_item,
    form_nodes,
    place_problems,
    remove_item,
    unknown_fields,
)
from toolcatalog.console.rendering import ConsoleRoute, FragmentCache, render
from toolcatalog.console.session import Visitor, form_pairs, reader, runtime_of
from toolcatalog.formats.dump import dump_yaml, tool_document

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]
# A form carries ~25 fields per pattern; the largest starter tool has 10 patterns (~300
# fields). The service's body limit (TOOLCATALOG_MAX_BODY_BYTES) bounds the bytes.
MAX_FORM_FIELDS = 20_000
# The fields of an unchanged tool's form, by (name, ETag): ~5 ms of a 10-pattern tool's page.
_FORM_BODY = FragmentCache("form_body.html", max_size=128)


def _form_view(
    request: Request,
    who: Visitor,
    status: int,
    *,
    document: dict[str, Any],
    name: str | None,
    checked: DefinitionCheck | None = None,
    cache_key: tuple[str, str] | None = None,
    **context: Any,
) -> Response:
    """The form page of `document`; `cache_key` (the tool's name and ETag, or the skeleton)
    marks an unchanged document, whose fields are rendered once and reused."""
    root: FormNode | None = None
    body_html = None
    if cache_key is not None and checked is None:
        fixed = name is not None
        body_html = _FORM_BODY.get(
            cache_key, lambda: {"root": form_nodes(document, fixed_name=fixed)}
        )
    else:
        root = form_nodes(document, fixed_name=name is not None)
    placed = place_problems(root, checked.problems) if root and checked is not None else []
    action = f"/ui/tools/{name}/form" if name else "/ui/new/form"
    defaults: dict[str, Any] = {"etag": "", "revision": "", "changes": None, "conflict": None}
    return render(
        request,
        "form.html",
        {
            **defaults,
            **context,
            "who": who,
            "name": name,
            "root": root,
            "body_html": body_html,
            "checked": checked,
            "placed": placed,
            "action": action,
            "as_json": json_text,
        },
        status=status,
    )


@router.get("/tools/{name}/form")
async def form_page(request: Request, name: str, who: Reader) -> Response:
    who.require(Role.editor, "editing a tool")
    cached = await runtime_of(request).catalog.get_tool(check_name(name))
    document = tool_document(cached.tool)
    return _form_view(
        request, who, 200, document=document, name=name, etag=cached.etag,
        revision=cached.revision, cache_key=(name, cached.etag),
    )  # fmt: skip


@router.get("/new/form")
async def new_form_page(request: Request, who: Reader) -> Response:
    who.require(Role.editor, "creating a tool")
    kind = request.query_params.get("template", "command")
    kind = kind if kind in SKELETONS else "command"
    document, _ = parse_draft(SKELETONS[kind])
    return _form_view(request, who, 200, document=document or {}, name=None, cache_key=("", kind))


@router.post("/tools/{name}/form")
async def post_form(request: Request, name: str, who: Reader) -> Response:
    return await _post(request, who, check_name(name))


@router.post("/new/form")
async def post_new_form(request: Request, who: Reader) -> Response:
    return await _post(request, who, None)


async def _post(request: Request, who: Visitor, name: str | None) -> Response:
    pairs = await form_pairs(request, who, max_fields=MAX_FORM_FIELDS)
    who.require(Role.editor, "editing a tool" if name else "creating a tool")
    fields = dict(pairs)
    draft = Draft(name, fields.get("action", "save"), fields.get("etag", ""),
                  fields.get("revision", ""))  # fmt: skip
    context: dict[str, Any] = {"name": name, "etag": draft.etag, "revision": draft.revision}
    if "yaml" in fields:  # the YAML editor's "Edit as a form": its text, as a form
        document, problems = parse_draft(fields["yaml"])
        problems += unknown_fields(document)
        checked = DefinitionCheck(None, problems) if problems else None
        return _form_view(
            request, who, 422 if problems else 200, document=document or {}, checked=checked,
            **context,
        )  # fmt: skip
    posted = PostedForm(pairs)
    document = posted.document()
    if draft.action.startswith(("add:", "remove:")):
        verb, _, path = draft.action.partition(":")
        document = (add_item if verb == "add" else remove_item)(document, path)
        return _form_view(request, who, 200, document=document, **context)
    if draft.action == "yaml":
        return yaml_editor(request, who, text=dump_yaml(document), **context)
    checked = await _check(request, document, name, posted)
    view = partial(_form_view, document=document)
    return await submit(request, who, draft, checked, view)


async def _check(
    request: Request, document: dict[str, Any], name: str | None, posted: PostedForm
) -> DefinitionCheck:
    if posted.problems:  # free-form data that is not YAML
        return DefinitionCheck(None, posted.problems)
    return await check_document(runtime_of(request).catalog, document, name=name, text=None)


@router.post("/tools/{name}/form/check")
async def check_form(request: Request, name: str, who: Reader) -> Response:
    return await _live_check(request, who, check_name(name))


@router.post("/new/form/check")
async def check_new_form(request: Request, who: Reader) -> Response:
    return await _live_check(request, who, None)


async def _live_check(request: Request, who: Visitor, name: str | None) -> Response:
    """The form's problems while typing: the summary, and each field's problems (htmx swaps
    them into the fields' slots out of band)."""
    posted = PostedForm(await form_pairs(request, who, max_fields=MAX_FORM_FIELDS))
    document = posted.document()
    checked = await _check(request, document, name, posted)
    root = form_nodes(document, fixed_name=name is not None, values=False)
    placed = place_problems(root, checked.problems)
    context = {"who": who, "checked": checked, "placed": placed, "nodes": root.walk()}
    return render(request, "form_check.html", context)
