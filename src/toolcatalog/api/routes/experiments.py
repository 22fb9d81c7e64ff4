"""/api/v1/experiments: A/B experiments over the selector's configuration. Starting, stopping
and promoting apply in this process at once and in every other replica within
TOOLCATALOG_LEARNING_REFRESH_S."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, READ_ERRORS, problems
from toolcatalog.catalog.experiments import ExperimentReport
from toolcatalog.selection.experiments import NAME_RE, ExperimentSpec

router = APIRouter(prefix="/api/v1", tags=["learning"], route_class=ORJSONRoute)

NamePath = Annotated[str, Path(pattern=NAME_RE, description="The experiment's name.")]


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Annotated[str, Field(pattern=NAME_RE)] = Field(
        description="The variant whose configuration every selection uses from now on."
    )


@router.post(
    "/experiments",
    status_code=201,
    summary="Start an A/B experiment between selector configurations",
    description=(
        "Starts at once: each subject (the select request's `session_id`, else the API key's "
        "name) is assigned a variant by `share`, sticky; each selection records its variant. "
        "One experiment runs at a time (409 otherwise). Editor role."
    ),
    response_model=ExperimentReport,
    responses=problems(409, *BODY_ERRORS),
)
async def start_experiment(
    runtime: RuntimeDep, _caller: EditorDep, body: Annotated[ExperimentSpec, Body()]
) -> ExperimentReport:
    variants = [v.model_dump(mode="json", exclude_none=True) for v in body.variants]
    await runtime.experiments.start(body.name, body.description, variants)
    await runtime.learning.refresh_experiments()
    return await runtime.experiments.report(body.name)


@router.get(
    "/experiments/{name}",
    summary="An experiment's results per variant",
    description=(
        "Per variant: selections, acceptance rate (of the feedback given), success rate and "
        "median duration (of the telemetry naming its selections), each with a 95 % "
        "interval; each variant against the first (the control) with a two-sided p-value and "
        "whether the difference is significant at 5 %."
    ),
    response_model=ExperimentReport,
    responses=problems(404, *READ_ERRORS),
)
async def experiment_report(
    runtime: RuntimeDep, _caller: ReaderDep, name: NamePath
) -> ExperimentReport:
    return await runtime.experiments.report(name)


@router.post(
    "/experiments/{name}/stop",
    summary="Stop an experiment (the configuration stays as it was)",
    response_model=ExperimentReport,
    responses=problems(404, 409, *READ_ERRORS),
)
async def stop_experiment(
    runtime: RuntimeDep, _caller: EditorDep, name: NamePath
) -> ExperimentReport:
    await runtime.experiments.stop(name)
    await runtime.learning.refresh_experiments()
    return await runtime.experiments.report(name)


@router.post(
    "/experiments/{name}/promote",
    summary="End an experiment and make one variant's configuration everyone's",
    response_model=ExperimentReport,
    responses=problems(404, *BODY_ERRORS),
)
async def promote_variant(
    runtime: RuntimeDep, _caller: EditorDep, name: NamePath, body: Annotated[Promotion, Body()]
) -> ExperimentReport:
    await runtime.experiments.promote(name, body.variant)
    await runtime.learning.refresh_experiments()
    return await runtime.experiments.report(name)
