"""The draft generators' page (editors): paste a command's --help text, an OpenAPI document
or operation, or an MCP tool definition, and review the draft in the YAML editor, where
nothing is saved until Save is pressed. A paste that does not convert comes back with the
reason and the paste kept."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from toolcatalog.catalog.keys import Role
from toolcatalog.console.authoring import yaml_editor
from toolcatalog.console.drafts import check_draft
from toolcatalog.console.generators import SOURCES, generate
from toolcatalog.console.rendering import ConsoleRoute, render
from toolcatalog.console.session import Visitor, form_fields, reader, runtime_of
from toolcatalog.errors import InvalidDefinition, Problem

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]


def _page(request: Request, who: Visitor, *, status: int = 200, **context: Any) -> Response:
    defaults: dict[str, Any] = {"source": "", "text": "", "pick": "", "server": "",
                                "problems": [], "error": None}  # fmt: skip
    return render(
        request,
        "generate.html",
        {**defaults, **context, "who": who, "sources": SOURCES},
        status=status,
    )


@router.get("/new/generate")
async def generate_page(request: Request, who: Reader) -> Response:
    who.require(Role.editor, "drafting a tool")
    return _page(request, who)


@router.post("/new/generate")
async def draft(request: Request, who: Reader) -> Response:
    fields = await form_fields(request, who)
    who.require(Role.editor, "drafting a tool")
    source, text = fields.get("source", ""), fields.get("text", "")
    pick, server = fields.get("pick", ""), fields.get("server", "")
    try:
        drafted = await generate(
            runtime_of(request).catalog, source, text, pick=pick, server=server
        )
    except InvalidDefinition as exc:
        problems = exc.problems or [Problem("", exc.detail)]
        return _page(
            request, who, status=422, source=source, text=text, pick=pick, server=server,
            error=exc.detail, problems=problems,
        )  # fmt: skip
    # Checked at once: the reviewer sees the warnings (no examples, say) before typing.
    checked = await check_draft(runtime_of(request).catalog, drafted.yaml)
    return yaml_editor(request, who, text=drafted.yaml, generated=drafted, checked=checked)
