"""Every answer of POST /api/v1/select carries a selection_id, recorded in tool_selections by
the batch writer (off the request path) with the request, the decision and the caller."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.selection_log import SelectionLog
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime
from toolcatalog.store.selections import SelectionRecord, fetch_selection

from .support import Keys

SELECT = "/api/v1/select"
STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


async def _import_starter(runtime: Runtime) -> None:
    tools, vocabulary = starter_definitions()
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)


async def test_each_answer_has_its_own_selection_id_recorded_with_request_and_decision(
    runtime: Runtime, client: httpx.AsyncClient, conn: Any
) -> None:
    await _import_starter(runtime)
    first = (await client.post(SELECT, json={"request": "why is / full on db2"})).json()
    second = (await client.post(SELECT, json={"request": "bake a chocolate cake"})).json()
    ids = [uuid.UUID(first["selection_id"]), uuid.UUID(second["selection_id"])]
    assert ids[0] != ids[1]
    assert runtime.selections.pending == 2  # queued, not written on the request's time
    assert await runtime.selections.flush() == 2
    decided = await fetch_selection(conn, ids[0])
    assert decided is not None
    assert decided.request == "why is / full on db2"
    assert (decided.tool_name, decided.capability, decided.pattern) == (
        first["decision"]["tool"],
        first["decision"]["capability"],
        first["decision"]["pattern"],
    )
    assert decided.catalog_version == first["catalog_version"]
    refused = await fetch_selection(conn, ids[1])
    assert refused is not None
    assert refused.tool_name is None  # no decision is recorded too


async def test_the_session_id_or_else_the_key_name_is_the_recorded_subject(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys, conn: Any
) -> None:
    await _import_starter(runtime)
    by_key = await client.post(SELECT, json={"request": "disk usage"}, headers=keys.reader)
    by_session = await client.post(
        SELECT, json={"request": "disk usage", "session_id": "s-42"}, headers=keys.reader
    )
    await runtime.selections.flush()
    row = await fetch_selection(conn, uuid.UUID(by_key.json()["selection_id"]))
    assert row is not None
    assert row.subject == "test-reader"
    row = await fetch_selection(conn, uuid.UUID(by_session.json()["selection_id"]))
    assert row is not None
    assert row.subject == "s-42"


async def test_a_full_queue_drops_new_selections_instead_of_growing(runtime: Runtime) -> None:
    log = SelectionLog(runtime.db, max_pending=2)
    for _ in range(3):
        log.record(SelectionRecord(uuid.uuid4(), datetime.now(UTC), "disk", None, None, None, 1))
    assert log.pending == 2
    assert await log.flush() == 2
    assert log.pending == 0


async def test_an_overlong_session_id_is_refused_with_its_path(client: httpx.AsyncClient) -> None:
    response = await client.post(SELECT, json={"request": "disk", "session_id": "x" * 201})
    assert response.status_code == 422
    assert "session_id" in response.text


async def test_selections_older_than_the_retention_are_pruned_with_their_feedback(
    runtime: Runtime, client: httpx.AsyncClient, conn: Any
) -> None:
    await _import_starter(runtime)
    answer = (await client.post(SELECT, json={"request": "why is / full on db2"})).json()
    await runtime.selections.flush()
    assert await runtime.selections.prune() == 0
    later = datetime.now(UTC) + timedelta(days=91)
    assert await runtime.selections.prune(now=later) == 1
    assert await fetch_selection(conn, uuid.UUID(answer["selection_id"])) is None
