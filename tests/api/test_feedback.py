"""POST /api/v1/selections/{selection_id}/feedback: verdicts on selections become labelled
examples the selector learns from (at once in this process, from the database in every
other), exported as an evaluation set; learning never makes the held-out requests worse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime

from .support import Keys, assert_problem

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "catalog"
HELDOUT = ROOT / "bench" / "data" / "heldout-queries.jsonl"
SELECT = "/api/v1/select"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


@pytest.fixture
async def starter(runtime: Runtime) -> Runtime:
    tools, vocabulary = starter_definitions()
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)
    return runtime


async def select(client: httpx.AsyncClient, text: str) -> dict[str, Any]:
    response = await client.post(SELECT, json={"request": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def feedback_url(selection_id: str) -> str:
    return f"/api/v1/selections/{selection_id}/feedback"


async def first_pattern(runtime: Runtime, tool: str) -> tuple[str, str]:
    snapshot = await runtime.catalog.get_all_tools_with_structure()
    found = next(t for t in snapshot.tools if t.name == tool)
    return found.capabilities[0].name, found.capabilities[0].patterns[0].name


async def test_an_override_is_learned_at_once_and_kept_in_the_database(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    text = "why is / full on db2"
    first = await select(client, text)
    decided = first["decision"]["tool"]
    other = "ncdu" if decided != "ncdu" else "du"
    capability, pattern = await first_pattern(starter, other)
    response = await client.post(
        feedback_url(first["selection_id"]),
        json={"outcome": "overridden", "tool": other, "capability": capability, "pattern": pattern},
        headers=keys.editor,
    )
    assert response.status_code == 200, response.text
    assert response.json()["request"] == text
    learned = await select(client, text)
    assert learned["decision"]["tool"] == other
    assert any(
        r.startswith("feedback: callers used it") for r in learned["candidates"][0]["reasons"]
    )
    # Another process learns it from the database.
    starter.selector.memory = None
    assert (await select(client, text))["decision"]["tool"] == decided
    await starter.learning.refresh()
    assert (await select(client, text))["decision"]["tool"] == other


async def test_a_rejection_lowers_the_decided_tool_for_that_request(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    text = "why is / full on db2"
    first = await select(client, text)
    decided = first["decision"]["tool"]
    score = first["candidates"][0]["score"]
    response = await client.post(
        feedback_url(first["selection_id"]), json={"outcome": "rejected"}, headers=keys.editor
    )
    assert response.status_code == 200, response.text
    assert response.json()["tool"] == decided
    again = await select(client, text)
    mine = next((c for c in again["candidates"] if c["tool"] == decided), None)
    assert mine is None or mine["score"] < score


async def test_accepted_feedback_is_exported_as_an_evaluation_line(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await select(client, "is nginx running on web01")
    response = await client.post(
        feedback_url(first["selection_id"]), json={"outcome": "accepted"}, headers=keys.editor
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get("/api/v1/selections/feedback", headers=keys.reader), 403)
    exported = (await client.get("/api/v1/selections/feedback", headers=keys.editor)).json()
    exported = exported["examples"]
    assert [(e["query"], e["tools"], e["outcome"]) for e in exported] == [
        ("is nginx running on web01", [first["decision"]["tool"]], "accepted")
    ]
    assert exported[0]["id"] == first["selection_id"]


async def test_bad_feedback_is_refused_with_what_and_where(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await select(client, "why is / full on db2")
    url = feedback_url(first["selection_id"])
    decided = first["decision"]["tool"]
    unknown = await client.post(
        feedback_url("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        json={"outcome": "accepted"},
        headers=keys.editor,
    )
    assert_problem(unknown, 404)
    assert "retry" in unknown.json()["detail"]
    assert_problem(
        await client.post(feedback_url("nope"), json={"outcome": "accepted"}, headers=keys.editor),
        404,
    )
    typo = await client.post(
        url,
        json={"outcome": "overridden", "tool": "ncdux", "capability": "x", "pattern": "y"},
        headers=keys.editor,
    )
    assert_problem(typo, 422)
    assert "ncdu" in typo.json()["detail"]
    missing = await client.post(url, json={"outcome": "overridden"}, headers=keys.editor)
    assert_problem(missing, 422)
    wrong = await client.post(
        url,
        json={"outcome": "accepted", "tool": "ls" if decided != "ls" else "df"},
        headers=keys.editor,
    )
    assert_problem(wrong, 422)
    assert "overridden" in wrong.json()["detail"]
    assert_problem(await client.post(url, json={"outcome": "maybe"}, headers=keys.editor), 422)


async def test_feedback_needs_a_reporter_editor_or_admin_key(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await select(client, "why is / full on db2")
    url = feedback_url(first["selection_id"])
    assert_problem(await client.post(url, json={"outcome": "accepted"}), 401)
    assert_problem(await client.post(url, json={"outcome": "accepted"}, headers=keys.reader), 403)


def _heldout() -> list[dict[str, Any]]:
    return [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]


async def _top1(client: httpx.AsyncClient, lines: list[dict[str, Any]]) -> int:
    hits = 0
    for line in lines:
        decision = (await select(client, line["query"]))["decision"]
        hits += decision is not None and decision["tool"] in line["tools"]
    return hits


async def test_learning_from_feedback_never_makes_held_out_requests_worse(
    starter: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Feedback on the first half of the held-out set (the right tool, as a person would
    give it) helps that half and leaves the second half, which it never saw, no worse."""
    starter.selector.memory = None
    lines = _heldout()
    taught, unseen = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    before_taught, before_unseen = await _top1(client, taught), await _top1(client, unseen)
    for line in taught:
        answer = await select(client, line["query"])
        decided = answer["decision"]["tool"] if answer["decision"] else None
        if decided in line["tools"]:
            body: dict[str, Any] = {"outcome": "accepted"}
        else:
            capability, pattern = await first_pattern(starter, line["tools"][0])
            body = {"outcome": "overridden", "tool": line["tools"][0]}
            body |= {"capability": capability, "pattern": pattern}
        response = await client.post(
            feedback_url(answer["selection_id"]), json=body, headers=keys.editor
        )
        assert response.status_code == 200, response.text
    after_taught, after_unseen = await _top1(client, taught), await _top1(client, unseen)
    assert after_unseen >= before_unseen
    # 26 -> 31 of 32 lexically: the one left is read as a change ("about to expire"), and
    # feedback lifts relevance but never lets a read-only tool stand for a change (intent).
    assert after_taught > before_taught
