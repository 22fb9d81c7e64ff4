"""/api/v1/selections: feedback on a selection by its selection_id (what the caller did with
the answer), and the labelled requests feedback made, as an evaluation set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.api.auth import EditorDep, ReporterDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, READ_ERRORS, problems
from toolcatalog.model.fields import SNAKE_RE, TOOL_NAME_RE
from toolcatalog.selection.feedback import LabelledExample

router = APIRouter(prefix="/api/v1", tags=["learning"], route_class=ORJSONRoute)

Outcome = Literal["accepted", "rejected", "overridden"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome = Field(
        description="accepted: the decided pattern was used; rejected: it was wrong and none "
        "was used; overridden: another pattern (tool, capability, pattern) was used instead."
    )
    tool: Annotated[str, Field(pattern=TOOL_NAME_RE, max_length=64)] | None = None
    capability: Annotated[str, Field(pattern=SNAKE_RE, max_length=64)] | None = None
    pattern: Annotated[str, Field(pattern=SNAKE_RE, max_length=64)] | None = None


class FeedbackOut(BaseModel):
    selection_id: str
    outcome: Outcome
    tool: str
    capability: str
    pattern: str
    request: str
    created_at: datetime


class LabelledOut(BaseModel):
    id: str = Field(description="The selection_id.")
    query: str
    tools: list[str] = Field(description="The tool that answers the request.")
    outcome: Outcome
    decided: str | None = Field(description="The tool the selector had decided.")
    at: datetime


class LabelledPage(BaseModel):
    examples: list[LabelledOut]


@router.post(
    "/selections/{selection_id}/feedback",
    summary="Say what was done with a selection",
    description=(
        "Records the caller's verdict on the selection `selection_id` (from a select answer): "
        "accepted or rejected (the decided pattern; tool, capability and pattern may be left "
        "out) or overridden (the pattern used instead). A later verdict replaces an earlier "
        "one. The selection's request becomes a labelled example the selector learns from at "
        "once. Reporter role (or editor, admin)."
    ),
    response_model=FeedbackOut,
    responses=problems(404, *BODY_ERRORS),
)
async def give_feedback(
    runtime: RuntimeDep,
    _caller: ReporterDep,
    selection_id: Annotated[str, Path(max_length=64)],
    body: Annotated[FeedbackIn, Body()],
) -> FeedbackOut:
    record, request = await runtime.feedback.record(
        selection_id, body.outcome, body.tool, body.capability, body.pattern
    )
    runtime.learning.learn(
        LabelledExample(request, record.tool_name, positive=record.outcome != "rejected")
    )
    return FeedbackOut(
        selection_id=str(record.selection_id),
        outcome=record.outcome,
        tool=record.tool_name,
        capability=record.capability,
        pattern=record.pattern,
        request=request,
        created_at=record.created_at,
    )


@router.get(
    "/selections/feedback",
    summary="The labelled requests feedback made",
    description=(
        "The newest `limit` requests with feedback since `since`, each with the tool that "
        "answers it (the decided one when accepted, the caller's when overridden, the refused "
        "one when rejected): `bench/select_quality.py --export-feedback` writes the accepted "
        "and overridden ones as an evaluation set. Editor role: the requests are the "
        "callers' own words (hostnames, paths)."
    ),
    response_model=LabelledPage,
    responses=problems(*READ_ERRORS),
)
async def labelled_requests(
    runtime: RuntimeDep,
    _caller: EditorDep,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> LabelledPage:
    rows = await runtime.feedback.labelled(since=since, limit=limit)
    return LabelledPage(
        examples=[
            LabelledOut(
                id=str(r.selection_id),
                query=r.request,
                tools=[r.tool_name],
                outcome=r.outcome,
                decided=r.decided_tool,
                at=r.created_at,
            )
            for r in rows
        ]
    )
