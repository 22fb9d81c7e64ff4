"""/api/v1/environments: environment policy as data. Reads come from the cached snapshot;
an editor's PUT stores one environment's rules (a new revision and an audit entry) and every
replica reloads through the change notice."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from toolcatalog.api.auth import EditorDep, ReaderDep
from toolcatalog.api.deps import CatalogDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import BODY_ERRORS, READ_ERRORS, problems
from toolcatalog.model.environment import DEFAULT_ENVIRONMENTS, EnvironmentRules
from toolcatalog.model.fields import SNAKE_RE

router = APIRouter(prefix="/api/v1", tags=["environments"], route_class=ORJSONRoute)

EnvironmentPath = Annotated[
    str, Path(pattern=SNAKE_RE, description="An environment name, e.g. `production`.")
]


class EnvironmentOut(BaseModel):
    name: str
    source: Literal["catalog", "default"] = Field(
        description="catalog: stored (environments.yaml or PUT); default: the built-in rules."
    )
    rules: EnvironmentRules


class EnvironmentList(BaseModel):
    environments: list[EnvironmentOut]
    undefined: str = Field(
        default="production",
        description="Whose rules an environment nobody defined gets (the reason says so).",
    )


@router.get(
    "/environments",
    summary="Every environment's policy rules",
    response_model=EnvironmentList,
    responses=problems(*READ_ERRORS),
)
async def list_environments(catalog: CatalogDep, _: ReaderDep) -> EnvironmentList:
    snapshot = await catalog.get_all_tools_with_structure()
    stored = snapshot.environments.environments if snapshot.environments else {}
    out = [EnvironmentOut(name=n, source="catalog", rules=r) for n, r in sorted(stored.items())]
    out += [
        EnvironmentOut(name=n, source="default", rules=r)
        for n, r in DEFAULT_ENVIRONMENTS.items()
        if n not in stored
    ]
    return EnvironmentList(environments=out)


class EnvironmentWritten(BaseModel):
    name: str
    revision: int
    rules: EnvironmentRules


@router.put(
    "/environments/{name}",
    summary="Store one environment's policy rules",
    description="Needs an editor key. Validated like a tool; a new revision and an audit entry "
    "(action `environment`); every replica reloads its snapshot.",
    response_model=EnvironmentWritten,
    responses=problems(*BODY_ERRORS),
)
async def put_environment(
    name: EnvironmentPath,
    catalog: CatalogDep,
    caller: EditorDep,
    rules: Annotated[EnvironmentRules, Body()],
) -> EnvironmentWritten:
    revision = await catalog.put_environment(name, rules, actor=caller.actor)
    return EnvironmentWritten(name=name, revision=revision, rules=rules)
