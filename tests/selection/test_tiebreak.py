"""The LLM tie-break against a real local HTTP server speaking the Ollama (/api/chat) and
OpenAI (/v1/chat/completions) chat protocols."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.tiebreak import TiedCandidate, break_tie, endpoint, parse_answer

from .selection_catalog import DF, write_catalog

TIED = [
    TiedCandidate(
        "df", "disk_usage", "summary", "Disk space per mount.", 50, 1, 0.9, 0.4, 0.1, True
    ),
    TiedCandidate(
        "du", "directory_size", "scan", "Space per directory.", 900, 3, 0.95, 1.0, 0.3, True
    ),
]


@dataclass
class StubLLM:
    """Answers every chat request with `content` (after `delay` seconds) in the protocol the
    path implies, and records the request bodies."""

    content: str = ""
    delay: float = 0.0
    status: int = 200
    bodies: list[Any] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        path = head.split(" ", 2)[1]
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        self.bodies.append(json.loads(await reader.readexactly(length)))
        await asyncio.sleep(self.delay)
        message = {"role": "assistant", "content": self.content}
        if path.endswith("/api/chat"):
            payload: Any = {"model": "m", "message": message, "done": True}
        else:
            payload = {"choices": [{"index": 0, "message": message}]}
        body = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def stub() -> AsyncIterator[StubLLM]:
    llm = StubLLM()
    server = await asyncio.start_server(llm.handle, "127.0.0.1", 0)
    llm.port = server.sockets[0].getsockname()[1]
    async with server:
        yield llm
        server.close()


PROTOCOLS: list[Callable[[int], str]] = [
    lambda port: f"http://127.0.0.1:{port}/api/chat",
    lambda port: f"http://127.0.0.1:{port}/v1/chat/completions",
]


def _settings(url: str, timeout: float = 2.0) -> Settings:
    return Settings(llm_url=url, llm_model="tiny", llm_timeout_s=timeout, llm_api_key="k")


@pytest.mark.parametrize("url", PROTOCOLS, ids=["ollama", "openai"])
async def test_a_valid_pick_decides(stub: StubLLM, url: Callable[[int], str]) -> None:
    stub.content = '{"choice": 2, "justification": "the directory view answers it"}'
    outcome = await break_tie(_settings(url(stub.port)), "what fills the disk", TIED)
    assert (outcome.choice, outcome.method) == (1, "llm")
    assert outcome.justification == "the directory view answers it"
    sent = stub.bodies[0]
    assert sent["model"] == "tiny"
    assert "what fills the disk" in sent["messages"][1]["content"]


@pytest.mark.parametrize("url", PROTOCOLS, ids=["ollama", "openai"])
async def test_a_pick_by_tool_name_decides(stub: StubLLM, url: Callable[[int], str]) -> None:
    stub.content = '```json\n{"choice": "df", "justification": "fast"}\n```'
    outcome = await break_tie(_settings(url(stub.port)), "disk", TIED)
    assert (outcome.choice, outcome.method) == (0, "llm")


@pytest.mark.parametrize("url", PROTOCOLS, ids=["ollama", "openai"])
@pytest.mark.parametrize(
    "content",
    [
        '{"choice": "ncdu", "justification": "x"}',
        '{"choice": 3}',
        '{"choice": true}',
        '{"pick": 1}',
    ],
)
async def test_an_invalid_pick_keeps_the_deterministic_order(
    stub: StubLLM, url: Callable[[int], str], content: str
) -> None:
    stub.content = content
    outcome = await break_tie(_settings(url(stub.port)), "disk", TIED)
    assert (outcome.choice, outcome.method) == (None, "deterministic")
    assert "refused" in outcome.justification


@pytest.mark.parametrize("url", PROTOCOLS, ids=["ollama", "openai"])
async def test_garbage_keeps_the_deterministic_order(
    stub: StubLLM, url: Callable[[int], str]
) -> None:
    stub.content = "I think the first one, probably."
    outcome = await break_tie(_settings(url(stub.port)), "disk", TIED)
    assert (outcome.choice, outcome.method) == (None, "deterministic")


@pytest.mark.parametrize("url", PROTOCOLS, ids=["ollama", "openai"])
async def test_a_timeout_keeps_the_deterministic_order(
    stub: StubLLM, url: Callable[[int], str]
) -> None:
    stub.content, stub.delay = '{"choice": 2, "justification": "late"}', 1.0
    outcome = await break_tie(_settings(url(stub.port), timeout=0.2), "disk", TIED)
    assert (outcome.choice, outcome.method) == (None, "deterministic")
    assert "timed out" in outcome.justification


async def test_an_http_error_keeps_the_deterministic_order(stub: StubLLM) -> None:
    stub.status, stub.content = 500, "boom"
    outcome = await break_tie(_settings(PROTOCOLS[0](stub.port)), "disk", TIED)
    assert (outcome.choice, outcome.method) == (None, "deterministic")


def test_endpoints_are_recognised_by_path() -> None:
    assert endpoint("http://h:11434") == ("ollama", "http://h:11434/api/chat")
    assert endpoint("http://h/v1") == ("openai", "http://h/v1/chat/completions")
    assert endpoint("http://h/v1/chat/completions")[0] == "openai"
    with pytest.raises(ValueError, match="not one of"):
        parse_answer('{"choice": 0}', TIED)


async def test_the_selector_reorders_a_tie_by_the_llm_pick(stub: StubLLM, tmp_path: Path) -> None:
    twin = DF.replace("name: df", "name: bdf")
    folder = write_catalog(tmp_path / "c", {"a.yaml": DF, "b.yaml": twin})
    stub.content = '{"choice": "df", "justification": "the canonical tool"}'
    selector = Selector(FolderSource(folder), _settings(PROTOCOLS[1](stub.port)))
    result = await selector.aselect(SelectionRequest(request="is the disk full"))
    assert result.decision is not None
    assert result.decision.tool == "df"
    assert result.tie_break.used
    assert result.tie_break.method == "llm"
    assert result.tie_break.justification == "the canonical tool"
    assert result.tie_break.tied == ["bdf", "df"]


async def test_an_llm_settled_tie_is_asked_again_at_every_repeat(
    stub: StubLLM, tmp_path: Path
) -> None:
    twin = DF.replace("name: df", "name: bdf")
    folder = write_catalog(tmp_path / "c", {"a.yaml": DF, "b.yaml": twin})
    stub.content = '{"choice": "df", "justification": "the canonical tool"}'
    selector = Selector(FolderSource(folder), _settings(PROTOCOLS[1](stub.port)))
    request = SelectionRequest(request="is the disk full")
    for asked in (1, 2, 3):
        result = await selector.aselect(request)
        assert result.tie_break.method == "llm"
        assert len(stub.bodies) == asked
    assert selector.answers is not None
    assert len(selector.answers) == 0
    stub.content = '{"choice": "bdf", "justification": "changed its mind"}'
    result = await selector.aselect(request)
    assert result.decision is not None
    assert result.decision.tool == "bdf"


async def test_without_a_tie_the_llm_is_not_asked_and_the_answer_is_kept(
    stub: StubLLM, tmp_path: Path
) -> None:
    folder = write_catalog(tmp_path / "c", {"a.yaml": DF})
    selector = Selector(FolderSource(folder), _settings(PROTOCOLS[0](stub.port)))
    request = SelectionRequest(request="is the disk full")
    first, again = await selector.aselect(request), await selector.aselect(request)
    assert stub.bodies == []
    assert selector.answers is not None
    assert len(selector.answers) == 1
    assert first.selection_id != again.selection_id
    drop = {"selection_id", "elapsed_ms"}
    assert first.model_dump(exclude=drop) == again.model_dump(exclude=drop)
