"""Remembered answers (selection/remembered.py) on real PostgreSQL: a repeated select gives
the bits ranking it again would give (selection_id and elapsed_ms aside), across writes,
feedback, a learning refresh and an experiment, each repeat with its own selection_id and
selection-log row."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_core import to_json

from builders import make_settings
from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.store.selections import fetch_selection

from .support import Keys, import_starter

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "bench" / "data" / "heldout-queries.jsonl"
SELECT = "/api/v1/select"

pytestmark = pytest.mark.skipif(not HELDOUT.is_file(), reason="no bench data in checkout")


@pytest.fixture
def settings(module_db_url: str, tmp_path: Path) -> Settings:
    # Lexical: the semantic stages' part of the basis is tested in tests/selection.
    return make_settings(module_db_url, tmp_path, semantic=False)


def requests() -> list[SelectionRequest]:
    """The held-out requests, and some with the fields that change an answer set."""
    texts = [json.loads(line)["query"] for line in HELDOUT.read_text().splitlines() if line]
    out = [SelectionRequest(request=t) for t in texts]
    for text in texts[:8]:
        out += [
            SelectionRequest(request=text, explain=True, top_k=10, patterns="all"),
            SelectionRequest(request=text, preferences={"mode": "fast"}),
            SelectionRequest(request=text, constraints={"environment": "production"}),
        ]
    return out


def shown(answer: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(answer)
    fields.pop("selection_id")
    fields.pop("elapsed_ms")
    return fields


async def ranked(
    selector: Selector, request: SelectionRequest, subject: str | None = None
) -> bytes:
    """The answer ranked again, nothing remembered (the same selector, the same state)."""
    answers, selector.answers = selector.answers, None
    try:
        return await selector.aselect_json(request, subject)
    finally:
        selector.answers = answers


async def assert_same_as_ranked(
    selector: Selector, batch: list[SelectionRequest], subject: str | None = None
) -> None:
    for request in batch:
        first = await selector.aselect_json(request, subject)
        again = await selector.aselect_json(request, subject)
        fresh = await ranked(selector, request, subject)
        assert json.loads(first)["selection_id"] != json.loads(again)["selection_id"]
        assert shown(first) == shown(again) == shown(fresh), request


async def test_a_repeat_answers_the_same_bits_as_ranking_it_again(runtime: Runtime) -> None:
    await import_starter(runtime)
    selector = runtime.selector
    await selector.aselect_index(fresh=True)
    batch = requests()
    await assert_same_as_ranked(selector, batch)
    assert selector.answers is not None
    assert len(selector.answers) == len({r.model_dump_json() for r in batch})
    # The remembered bytes are the ranked ones' (byte for byte, the two fields aside).
    request = batch[0]
    again, fresh = await selector.aselect_json(request), await ranked(selector, request)
    a, f = json.loads(again), json.loads(fresh)
    elapsed = b'"elapsed_ms":'
    expected = fresh.replace(f["selection_id"].encode(), a["selection_id"].encode()).replace(
        elapsed + to_json(f["elapsed_ms"]), elapsed + to_json(a["elapsed_ms"])
    )
    assert again == expected


async def test_writes_are_answered_from_the_new_generation(runtime: Runtime) -> None:
    await import_starter(runtime)
    selector = runtime.selector
    await selector.aselect_index(fresh=True)
    batch = requests()[:20]
    await assert_same_as_ranked(selector, batch)
    catalog = runtime.catalog
    for step, name in enumerate(("du", "ncdu", "df")):
        await catalog.patch_tool(name, {"description": f"Quorum snapshot zqxwv rotation {step}."})
        await selector.aselect_index(fresh=True)
        await assert_same_as_ranked(selector, batch)
    await catalog.set_enabled("iotop", False)
    await selector.aselect_index(fresh=True)
    rotated = SelectionRequest(request="rotate the quorum snapshot zqxwv")
    answer = json.loads(await selector.aselect_json(rotated))
    assert answer["catalog_version"] == selector.current.index.generation  # type: ignore[union-attr]
    await assert_same_as_ranked(selector, [*batch, rotated])


async def test_feedback_and_a_learning_refresh_change_a_remembered_answer(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await import_starter(runtime)
    text = "why is / full on db2"
    first = (await client.post(SELECT, json={"request": text})).json()
    decided = first["decision"]["tool"]
    assert (await client.post(SELECT, json={"request": text})).json()["decision"]["tool"] == decided
    response = await client.post(
        f"/api/v1/selections/{first['selection_id']}/feedback",
        json={"outcome": "rejected"},
        headers=keys.editor,
    )
    assert response.status_code == 200, response.text
    await assert_same_as_ranked(runtime.selector, [SelectionRequest(request=text)])
    runtime.selector.memory = None  # another process's selector: learns it at the refresh
    await assert_same_as_ranked(runtime.selector, [SelectionRequest(request=text)])
    await runtime.learning.refresh()
    await assert_same_as_ranked(runtime.selector, [SelectionRequest(request=text)])


async def test_each_experiment_variant_is_remembered_apart(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await import_starter(runtime)
    batch = [SelectionRequest(request=r.request) for r in requests()[:6]]
    await assert_same_as_ranked(runtime.selector, batch)
    spec = {
        "name": "speed-a-b",
        "description": "speed against the default",
        "variants": [
            {"name": "control", "share": 1},
            {"name": "fast", "share": 1, "config": {"weights": {"speed": 1}, "tie_margin": 0.0}},
        ],
    }
    started = await client.post("/api/v1/experiments", json=spec, headers=keys.editor)
    assert started.status_code == 201, started.text
    sessions = [f"s-{n}" for n in range(8)]
    variants = {runtime.selector.experiment.assign(s).name for s in sessions}  # type: ignore[union-attr]
    assert variants == {"control", "fast"}
    for session in sessions:
        await assert_same_as_ranked(
            runtime.selector, [r.model_copy(update={"session_id": session}) for r in batch]
        )
    stopped = await client.post("/api/v1/experiments/speed-a-b/stop", headers=keys.editor)
    assert stopped.status_code == 200, stopped.text
    await assert_same_as_ranked(runtime.selector, batch, subject="s-1")


async def test_every_repeat_has_its_own_selection_log_row(
    runtime: Runtime, client: httpx.AsyncClient, conn: Any
) -> None:
    await import_starter(runtime)
    body = {"request": "which process is using the most memory on web1", "session_id": "a"}
    remembered = metrics.REGISTRY.get_sample_value("toolcatalog_selection_remembered_total")
    answers = [(await client.post(SELECT, json=body)).json() for _ in range(3)]
    assert len({a["selection_id"] for a in answers}) == 3
    again = metrics.REGISTRY.get_sample_value("toolcatalog_selection_remembered_total")
    assert again is not None
    assert again - (remembered or 0) == 2
    await runtime.selections.flush()
    for answer in answers:
        row = await fetch_selection(conn, uuid.UUID(answer["selection_id"]))
        assert row is not None
        assert row.request == body["request"]
        assert row.subject == "a"
        assert row.tool_name == answer["decision"]["tool"]
        assert row.catalog_version == answer["catalog_version"]


async def test_off_remembers_nothing(module_db_url: str, tmp_path: Path, runtime: Runtime) -> None:
    await import_starter(runtime)
    off = Selector(
        runtime.selector.loader,
        make_settings(module_db_url, tmp_path, semantic=False, select_answers_max_bytes=0),
    )
    request = SelectionRequest(request="disk usage on web01")
    first, again = await off.aselect_json(request), await off.aselect_json(request)
    assert off.answers is None
    assert shown(first) == shown(again)
    await off.close()
