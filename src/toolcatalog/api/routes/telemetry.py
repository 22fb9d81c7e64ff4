"""POST /api/v1/telemetry: agents report what happened when they ran a pattern. Each event is
checked on its own; the good ones are kept (with their hourly rollups) and the bad ones come
back with their index and reason, so one bad event never loses a batch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.api.auth import ReporterDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, problems
from toolcatalog.catalog.telemetry import MAX_EVENTS
from toolcatalog.model.telemetry import TelemetryEvent

router = APIRouter(prefix="/api/v1", tags=["telemetry"], route_class=ORJSONRoute)


class TelemetryBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description=f"1 to {MAX_EVENTS} events, each shaped as TelemetryEvent (checked one by "
        "one: a bad event is rejected, the others kept).",
        json_schema_extra={"items": TelemetryEvent.model_json_schema()},
    )


class RejectedEvent(BaseModel):
    index: int = Field(description="The event's position in `events`, from 0.")
    reason: str


class TelemetryAccepted(BaseModel):
    accepted: int = Field(description="Events kept.")
    rejected: list[RejectedEvent]


_EXAMPLE = {
    "events": [
        {
            "tool": "df",
            "capability": "disk_usage",
            "pattern": "filesystem_summary",
            "duration_ms": 84.0,
            "success": True,
            "selection_id": "0b7c6f8e-3f0a-4c5e-9d7e-2a1f3b4c5d6e",
            "environment": "production",
        },
        {
            "tool": "du",
            "capability": "directory_size",
            "pattern": "top_level_summary",
            "duration_ms": 30000.0,
            "success": False,
            "error": "timeout",
            "at": "2026-01-31T12:00:00Z",
        },
    ]
}


@router.post(
    "/telemetry",
    summary="Report outcomes of pattern runs",
    description="Needs a reporter, editor or admin key. Names must be a tool, capability and "
    "pattern of the catalog (and environment, when given, one it knows); `error` is a short "
    "class, not a message. `at` defaults to now and must lie within the retention window.",
    status_code=202,
    response_model=TelemetryAccepted,
    responses=problems(*BODY_ERRORS),
)
async def post_telemetry(
    runtime: RuntimeDep,
    caller: ReporterDep,
    batch: Annotated[TelemetryBatch, Body(openapi_examples={"two": {"value": _EXAMPLE}})],
) -> TelemetryAccepted:
    report = await runtime.telemetry.ingest(batch.events, reporter=caller.name)
    return TelemetryAccepted(
        accepted=report.accepted,
        rejected=[RejectedEvent(index=r.index, reason=r.reason) for r in report.rejected],
    )
