"""A select ranks in the selector's thread pool, beside the event loop: GETs are answered
while selects are still ranking, and every answer is the same."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
from starlette.types import Message

from toolcatalog.api.app import create_app
from toolcatalog.runtime import Runtime
from toolcatalog.selection.answer import SelectionRecorder
from toolcatalog.selection.selector import SELECT_THREADS
from toolcatalog.store.selections import SelectionRecord

from .support import import_starter

SELECT = "/api/v1/select"
# A safety net only: a held select is released by the test long before this.
HOLD_LIMIT_S = 120.0


class HeldRecorder:
    """Holds every select at its last step (recording its answer), in the thread that ranks
    it, until the test releases them all. Were the ranking on the event loop, the loop itself
    would be held here, and no other request could be answered meanwhile."""

    def __init__(self, inner: SelectionRecorder | None) -> None:
        self.inner = inner
        self.release = threading.Event()
        self._entered = threading.Semaphore(0)

    def record(self, row: SelectionRecord) -> None:
        self._entered.release()
        self.release.wait(HOLD_LIMIT_S)
        if self.inner is not None:
            self.inner.record(row)

    def wait_entered(self) -> bool:
        return self._entered.acquire(timeout=HOLD_LIMIT_S)


async def test_a_get_is_answered_while_selects_are_ranking_and_queued(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await import_starter(runtime)
    runtime.selector.answers = None  # each repeat ranked, not answered from memory
    body = {"request": "why is / full on db2", "top_k": 3}
    first = await client.post(SELECT, json=body)
    assert first.status_code == 200, first.text
    expected = first.json()
    held = HeldRecorder(runtime.selector.recorder)
    runtime.selector.recorder = held
    # One more select than the pool has threads: that one waits in the pool's queue.
    selects = [
        asyncio.ensure_future(client.post(SELECT, json=body)) for _ in range(SELECT_THREADS + 1)
    ]
    try:
        for _ in range(SELECT_THREADS):
            assert await asyncio.to_thread(held.wait_entered)
        got = await client.get("/api/v1/tools/du")
        listed = await client.get("/api/v1/tools", params={"limit": "5"})
        assert got.status_code == 200
        assert got.json()["name"] == "du"
        assert listed.status_code == 200
        assert not any(s.done() for s in selects), "a held select answered before the GET"
    finally:
        held.release.set()
    answers = await asyncio.gather(*selects)
    for answer in answers:
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["decision"] == expected["decision"]
        assert result["candidates"] == expected["candidates"]
    assert len({a.json()["selection_id"] for a in answers}) == len(answers)


async def test_a_selects_answer_is_sent_from_the_hops_completion_not_after_its_task_wakes(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """The early path sends the answer from the loop callback that completes the ranking's
    hop (a turn of the loop before the request's task wakes): no task is running when the
    server's `send` is called. The answer is the route's."""
    await import_starter(runtime)
    runtime.selector.answers = None  # ranked in a hop (a remembered answer has none)
    body = {"request": "why is / full on db2", "top_k": 3}
    expected = (await client.post(SELECT, json=body)).json()
    raw = json.dumps(body).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": SELECT, "raw_path": SELECT.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 123), "server": ("test", 80),
        "headers": [
            (b"host", b"test"), (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
    }  # fmt: skip
    sent: list[tuple[Message, bool]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Message) -> None:
        sent.append((message, asyncio.current_task() is None))

    await create_app(runtime)(scope, receive, send)
    assert [(m["type"], from_callback) for m, from_callback in sent] == [
        ("http.response.start", True),
        ("http.response.body", True),
    ]
    assert sent[0][0]["status"] == 200
    answer = json.loads(sent[1][0]["body"])
    assert answer["decision"] == expected["decision"]
    assert answer["candidates"] == expected["candidates"]
