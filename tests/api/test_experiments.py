"""/api/v1/experiments: start, sticky assignment recorded with each selection, report, stop,
promote; refusals with what and where."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime
from toolcatalog.store.selections import fetch_selection

from .support import Keys, assert_problem

STARTER = Path(__file__).resolve().parents[2] / "catalog"
SELECT = "/api/v1/select"
EXPERIMENTS = "/api/v1/experiments"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


def spec(name: str = "weights-a-b", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": "speed against accuracy",
        "variants": [
            {"name": "control", "share": 1},
            {"name": "fast", "share": 1, "config": {"weights": {"speed": 1}, "tie_margin": 0.0}},
        ],
    }
    return body | overrides


@pytest.fixture
async def starter(runtime: Runtime) -> Runtime:
    tools, vocabulary = starter_definitions()
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)
    return runtime


async def recorded_variant(runtime: Runtime, conn: Any, answer: dict[str, Any]) -> Any:
    await runtime.selections.flush()
    row = await fetch_selection(conn, uuid.UUID(answer["selection_id"]))
    assert row is not None
    return row.experiment, row.variant


async def test_assignment_is_sticky_per_session_and_recorded_with_each_selection(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys, conn: Any
) -> None:
    started = await client.post(EXPERIMENTS, json=spec(), headers=keys.editor)
    assert started.status_code == 201, started.text
    assert [v["name"] for v in started.json()["variants"]] == ["control", "fast"]
    seen: dict[str, set[Any]] = {}
    for session in ("s-1", "s-2", "s-3", "s-4", "s-5", "s-6"):
        for _ in range(2):
            body = {"request": "disk usage on web01", "session_id": session}
            answer = (await client.post(SELECT, json=body)).json()
            seen.setdefault(session, set()).add(await recorded_variant(starter, conn, answer))
    assert all(len(v) == 1 for v in seen.values()), seen  # sticky
    assert {next(iter(v))[0] for v in seen.values()} == {"weights-a-b"}
    by_key = (await client.post(SELECT, json={"request": "disk"}, headers=keys.reader)).json()
    assert (await recorded_variant(starter, conn, by_key))[0] == "weights-a-b"
    anonymous = (await client.post(SELECT, json={"request": "disk"})).json()
    assert await recorded_variant(starter, conn, anonymous) == (None, None)

    stopped = await client.post(f"{EXPERIMENTS}/weights-a-b/stop", headers=keys.editor)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    after = (await client.post(SELECT, json={"request": "disk", "session_id": "s-1"})).json()
    assert await recorded_variant(starter, conn, after) == (None, None)


async def test_a_report_without_outcomes_says_there_is_no_evidence_yet(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await client.post(EXPERIMENTS, json=spec(), headers=keys.editor)
    await client.post(SELECT, json={"request": "disk usage", "session_id": "x"})
    await starter.selections.flush()
    body = (await client.get(f"{EXPERIMENTS}/weights-a-b")).json()
    assert sum(v["selections"] for v in body["variants"]) == 1
    assert all(v["acceptance"] == {"rate": None, "ci95": None, "n": 0} for v in body["variants"])
    (versus,) = body["comparisons"]
    assert versus["acceptance"] == {"difference": None, "p_value": None, "significant": False}


async def test_one_experiment_runs_at_a_time_and_names_are_unique(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    assert (await client.post(EXPERIMENTS, json=spec(), headers=keys.editor)).status_code == 201
    second = await client.post(EXPERIMENTS, json=spec("other"), headers=keys.editor)
    assert_problem(second, 409)
    assert "weights-a-b" in second.json()["detail"]
    await client.post(f"{EXPERIMENTS}/weights-a-b/stop", headers=keys.editor)
    again = await client.post(EXPERIMENTS, json=spec(), headers=keys.editor)
    assert_problem(again, 409)
    assert_problem(await client.post(f"{EXPERIMENTS}/weights-a-b/stop", headers=keys.editor), 409)


async def test_bad_experiments_are_refused_with_what_and_where(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    one = spec(variants=[{"name": "only"}])
    assert_problem(await client.post(EXPERIMENTS, json=one, headers=keys.editor), 422)
    twins = spec(variants=[{"name": "a"}, {"name": "a"}])
    response = await client.post(EXPERIMENTS, json=twins, headers=keys.editor)
    assert_problem(response, 422)
    assert "distinct" in response.text
    unknown = spec(variants=[{"name": "a"}, {"name": "b", "config": {"warp": 9}}])
    assert_problem(await client.post(EXPERIMENTS, json=unknown, headers=keys.editor), 422)
    zero = spec(variants=[{"name": "a", "share": 0}, {"name": "b"}])
    assert_problem(await client.post(EXPERIMENTS, json=zero, headers=keys.editor), 422)
    assert_problem(await client.post(EXPERIMENTS, json=spec(), headers=keys.reader), 403)
    assert_problem(await client.get(f"{EXPERIMENTS}/nothing-here"), 404)


async def test_promoting_an_unknown_variant_names_the_closest(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await client.post(EXPERIMENTS, json=spec(), headers=keys.editor)
    response = await client.post(
        f"{EXPERIMENTS}/weights-a-b/promote", json={"variant": "fsat"}, headers=keys.editor
    )
    assert_problem(response, 422)
    assert "fast" in response.json()["detail"]
    missing = await client.post(
        f"{EXPERIMENTS}/nope/promote", json={"variant": "fast"}, headers=keys.editor
    )
    assert_problem(missing, 404)
