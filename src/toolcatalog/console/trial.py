"""Try selection: a request with a preference, an environment and constraints, answered by
the selector with its decision, ranked candidates and their reasons, the excluded ones and
why, and the retrieval used. A GET form, so the page's address is the link to share."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from toolcatalog.console.rendering import ConsoleRoute, render
from toolcatalog.console.session import Visitor, reader, runtime_of
from toolcatalog.errors import Problem
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.tool import Platform
from toolcatalog.selection.models import Mode, SelectionRequest

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]

FIELDS = (
    "request", "mode", "platform", "environment", "max_cost", "max_time_ms",
    "production_safe", "top_k", "exclude",
)  # fmt: skip
ENVIRONMENTS = ("production", "staging", "dev")


def selection_body(given: dict[str, str]) -> dict[str, Any]:
    """The POST /api/v1/select body the form's fields stand for (empty fields left out)."""
    constraints: dict[str, Any] = {}
    for name in ("platform", "environment", "max_cost", "max_time_ms"):
        if given[name]:
            constraints[name] = given[name]
    if given["production_safe"] in ("yes", "no"):
        constraints["require_production_safe"] = given["production_safe"] == "yes"
    if given["exclude"]:
        constraints["exclude_tools"] = [t for t in given["exclude"].replace(",", " ").split() if t]
    body: dict[str, Any] = {"request": given["request"], "explain": True}
    if given["mode"]:
        body["preferences"] = {"mode": given["mode"]}
    if constraints:
        body["constraints"] = constraints
    if given["top_k"]:
        body["top_k"] = given["top_k"]
    return body


@router.get("/select")
async def try_selection(request: Request, who: Reader) -> Response:
    given = {n: str(request.query_params.get(n, "")).strip()[:4000] for n in FIELDS}
    result = None
    problems: list[Problem] = []
    body = selection_body(given) if given["request"] else None
    if body is not None:
        try:
            wanted = SelectionRequest.model_validate(body)
        except ValidationError as exc:
            problems = problems_from_validation(exc)
        else:
            result = await runtime_of(request).selector.aselect(wanted)
    shared = {k: v for k, v in given.items() if v}
    share_url = f"{request.url.scheme}://{request.url.netloc}/ui/select?{urlencode(shared)}"
    return render(
        request,
        "select.html",
        {
            "who": who,
            "given": given,
            "modes": [m.value for m in Mode],
            "platforms": [p.value for p in Platform],
            "environments": ENVIRONMENTS,
            "result": result,
            "problems": problems,
            "share_url": share_url if body is not None else None,
        },
        status=422 if problems else 200,
    )
