"""The selection process beside a server worker (selection/process.py, toolcatalog.sidecar),
on a real database with the starter catalog: the same bytes as selection in the worker, a
write made through the worker seen by the process's next selects, feedback on its selection,
a killed process restarted, nothing left after shutdown. One process for the module (each
start reads the catalog and loads the encoder); the shutdown test starts its own."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from builders import make_settings
from toolcatalog.errors import InvalidDefinition, SelectionUnavailable
from toolcatalog.runtime import Runtime, first_start, open_runtime
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.process import SelectionProcess
from toolcatalog.selection.selector import Selector

ROOT = Path(__file__).resolve().parents[2]

WAIT_S = 120.0  # bounds a wait on a busy machine; no assertion on how long it took

REQUESTS: list[dict[str, Any]] = [
    {"request": "why is / full on db2"},
    {
        "request": "how much disk space is used on web01",
        "preferences": {"mode": "fast"},
        "constraints": {"platform": "linux", "environment": "production"},
        "top_k": 3,
    },
    {
        "request": "check the storage on web01",
        "classification": {
            "intent": {"action": "check", "confidence": 0.9, "capabilities": ["disk_monitoring"]},
            "entities": [{"type": "hostname", "value": "web01", "confidence": 0.9}],
            "risk_level": "low",
        },
        "inputs": {"files": 200000},
        "explain": True,
    },
    {"request": "restart nginx on web01 in production", "explain": True, "session_id": "s-1"},
    {"request": "qwzx vbnm plokij"},
]


@pytest.fixture(scope="module")
async def runtimes(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """(selection in process, a server worker's runtime with its selection process) over
    one committed database holding the starter catalog. Lexical, as the suite's selection
    is (conftest.py): the process's own encoder would take a minute of a busy machine to
    embed the catalog, and the bytes cross the channel the same either way."""
    settings = make_settings(
        module_db_url,
        tmp_path_factory.mktemp("selection-process"),
        catalog_dir=ROOT / "catalog",
        import_on_start=True,
    )
    async with open_runtime(settings) as local:
        await first_start(local)
        assert isinstance(local.selector, Selector)
        await local.selector.aselect_index(fresh=True)  # it started on the empty catalog
        async with open_runtime(settings, select_process=True) as worker:
            assert not await worker.selector.await_semantic()  # off, as in `local`
            yield local, worker


def _comparable(answer: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(answer)
    assert data.pop("selection_id")
    assert data.pop("elapsed_ms") >= 0
    return data


async def _eventually(condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        await asyncio.sleep(0.05)


async def test_the_worker_holds_a_handle_and_the_process_the_selector(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    local, worker = runtimes
    assert isinstance(local.selector, Selector)
    assert isinstance(worker.selector, SelectionProcess)
    assert worker.selector.pid is not None
    assert worker.selector.pid != os.getpid()
    assert worker.selector.semantic_status == local.selector.semantic_status == "off"
    assert worker.selector.llm_status == "off"
    assert worker.selector.semantic_progress == local.selector.semantic_progress
    assert worker.selector.process_status == f"up (pid {worker.selector.pid})"


@pytest.mark.parametrize("body", REQUESTS, ids=lambda b: b["request"][:24])
async def test_the_selection_process_answers_the_bytes_selection_in_the_worker_answers(
    runtimes: tuple[Runtime, Runtime], body: dict[str, Any]
) -> None:
    local, worker = runtimes
    request = SelectionRequest.model_validate(body)
    sent: list[bytes] = []
    remote = await worker.selector.aselect_json(request, "alice", sent.append)
    here = await local.selector.aselect_json(request, "alice")
    assert sent == [remote]  # `then` had the answer first, on the loop
    assert _comparable(remote) == _comparable(here)
    parsed = await worker.selector.aselect(request, "alice")
    assert parsed.decision == local.selector.select(request, "alice").decision


async def test_a_refusal_in_the_selection_process_is_the_same_error_in_the_worker(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    local, worker = runtimes
    request = SelectionRequest.model_validate(
        {"request": "disk usage", "constraints": {"include_tools": ["df", "no_such_tool"]}}
    )
    with pytest.raises(InvalidDefinition) as remote:
        await worker.selector.aselect_json(request)
    with pytest.raises(InvalidDefinition) as here:
        await local.selector.aselect_json(request)
    assert remote.value.detail == here.value.detail
    assert remote.value.problems == here.value.problems


async def test_a_write_through_the_worker_reaches_the_selection_process_like_a_replica(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    _, worker = runtimes
    request = SelectionRequest(request="why is / full on db2")
    decided = orjson.loads(await worker.selector.aselect_json(request))["decision"]["tool"]
    await worker.catalog.set_enabled(decided, False)
    try:

        async def decides_another() -> bool:
            answer = orjson.loads(await worker.selector.aselect_json(request))
            return (answer["decision"] or {}).get("tool") != decided

        await _eventually(decides_another, f"the selection process hears {decided} disabled")
    finally:
        await worker.catalog.set_enabled(decided, True)


async def test_feedback_on_a_selection_still_queued_in_the_process_is_recorded(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    _, worker = runtimes
    answer = orjson.loads(
        await worker.selector.aselect_json(SelectionRequest(request="why is / full on db2"))
    )
    # At once: the selection is still in the selection process's queue, not in the database.
    record, request = await worker.feedback.record(answer["selection_id"], "accepted")
    assert request == "why is / full on db2"
    assert record.tool_name == answer["decision"]["tool"]


async def test_a_killed_selection_process_is_refused_clearly_then_restarted(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    _, worker = runtimes
    handle = worker.selector
    assert isinstance(handle, SelectionProcess)
    killed, restarts = handle.pid, handle.restarts
    assert killed is not None
    psutil.Process(killed).kill()
    await asyncio.to_thread(psutil.wait_procs, [psutil.Process(killed)], WAIT_S)
    request = SelectionRequest(request="why is / full on db2")
    # Refused at once (503 for the API) while it is down: never a hang.
    with pytest.raises(SelectionUnavailable, match="selection"):
        await asyncio.wait_for(_until_refused(handle, request), WAIT_S)
    assert handle.semantic_status.startswith("unavailable: ")

    async def answers_again() -> bool:
        try:
            await handle.aselect_json(request)
        except SelectionUnavailable:
            return False
        return True

    await _eventually(answers_again, "the selection process answers again")
    assert handle.restarts == restarts + 1
    assert handle.pid != killed
    assert psutil.pid_exists(handle.pid or 0)


async def _until_refused(handle: SelectionProcess, request: SelectionRequest) -> None:
    """Selects until one is refused (the death may be learned a moment after the kill)."""
    while True:
        await handle.aselect_json(request)
        await asyncio.sleep(0.01)


async def test_closing_stops_the_selection_process_and_leaves_no_process(
    runtimes: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    local, _ = runtimes
    settings = local.settings.model_copy(update={"home": tmp_path, "semantic": False})
    handle = SelectionProcess(settings, local.db.url)
    await handle.start()
    pid = handle.pid
    assert pid is not None
    assert psutil.pid_exists(pid)
    answer = orjson.loads(await handle.aselect_json(SelectionRequest(request="disk usage")))
    assert answer["retrieval"] == "lexical"
    assert await handle.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(SelectionUnavailable):
        await handle.aselect_json(SelectionRequest(request="disk usage"))
