"""POST /api/v1/select: the Stage B selector over the catalog's current snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from toolcatalog.api.auth import Caller, ReaderDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, problems
from toolcatalog.runtime import Runtime
from toolcatalog.selection.models import SelectionRequest, SelectionResult

router = APIRouter(prefix="/api/v1", tags=["select"], route_class=ORJSONRoute)

_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "plain": {
        "summary": "A request in plain words",
        "value": {"request": "why is / full on db2"},
    },
    "preferences": {
        "summary": "A preference, a platform and production",
        "value": {
            "request": "how much disk space is used on web01",
            "preferences": {"mode": "fast"},
            "constraints": {"platform": "linux", "environment": "production"},
            "top_k": 3,
        },
    },
    "stage_a": {
        "summary": "With Stage A's classification (DecisionV1) and estimate inputs",
        "value": {
            "request": "check the storage on web01",
            "classification": {
                "intent": {
                    "action": "check",
                    "confidence": 0.9,
                    "capabilities": ["disk_monitoring"],
                },
                "entities": [{"type": "hostname", "value": "web01", "confidence": 0.9}],
                "risk_level": "low",
            },
            "inputs": {"files": 200000},
            "explain": True,
        },
    },
}

_RESULT_EXAMPLE: dict[str, Any] = {
    "selection_id": "0b7c6f8e-3f0a-4c5e-9d7e-2a1f3b4c5d6e",
    "decision": {"tool": "du", "capability": "directory_size", "pattern": "top_level_summary"},
    "reason": None,
    "execution": "inline",
    "sla": "batch",
    "candidates": [
        {
            "tool": "du",
            "capability": "directory_size",
            "pattern": "top_level_summary",
            "score": 0.912,
            "relevance": 1.0,
            "features": {
                "relevance": 1.0,
                "speed": 0.46,
                "cost": 0.5,
                "complexity": 0.85,
                "accuracy": 0.95,
                "completeness": 0.8,
                "utility": 0.71,
            },
            "estimates": {"time_ms": 4200.0, "cost": 3.0},
            "policy": {"production_safe": True, "requires_approval": False},
            "execution": "inline",
            "sla": "batch",
            "reasons": [
                "relevance 1.00: matches full, database",
                "balanced preference (default): utility 0.71",
                "estimated 4200 ms, batch SLA",
            ],
        }
    ],
    "excluded": None,
    "preferences_used": {
        "mode": "balanced",
        "weights": {
            "speed": 0.2,
            "accuracy": 0.2,
            "cost": 0.2,
            "complexity": 0.2,
            "completeness": 0.2,
        },
        "source": "default",
    },
    "tie_break": {"used": False, "method": "none", "justification": None, "tied": []},
    "catalog_version": 42,
    "elapsed_ms": 2.1,
    "retrieval": "lexical",
}


@router.post(
    "/select",
    summary="Pick the tool, capability and pattern for an ops request",
    description=(
        "Ranks the catalog's current snapshot for `request` and answers with the decision "
        "(or `null` and the `reason` when no tool in the catalog handles it — a result, not "
        "an error), the top `top_k` candidates with estimates, policy flags and reasons, the "
        "preferences used and how a tie was settled. `explain: true` also lists the excluded "
        "candidates and why. Deterministic for a catalog generation and a request unless an "
        "LLM tie-break is configured (TOOLCATALOG_LLM_URL). Reader role (open unless "
        "TOOLCATALOG_AUTH=required)."
    ),
    response_model=SelectionResult,
    responses={
        200: {"content": {"application/json": {"example": _RESULT_EXAMPLE}}},
        **problems(*BODY_ERRORS),
    },
)
async def select(
    runtime: RuntimeDep,
    caller: ReaderDep,
    body: Annotated[SelectionRequest, Body(openapi_examples=_REQUEST_EXAMPLES)],
) -> Response:
    # Encoded beside the loop with the ranking; `response_model` still documents it.
    return Response(await answer_select(runtime, caller, body), media_type="application/json")


async def answer_select(
    runtime: Runtime,
    caller: Caller,
    body: SelectionRequest,
    then: Callable[[bytes], None] | None = None,
) -> bytes:
    """The route's answer, also given by the middleware's early path (api/middleware.py),
    which sends it from `then` (Selector.aselect_json), a turn of the loop sooner."""
    # The API key's name is the experiment subject when the body names no session_id.
    subject = caller.name if caller.role is not None else None
    return await runtime.selector.aselect_json(body, subject, then)
