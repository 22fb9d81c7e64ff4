"""The LLM tie-break's circuit breaker against a real local server that accepts connections and
never answers: after the configured failures in a row the LLM is skipped (the result says so,
the metric and the selector's status show it) until the cool-down ends and one request probes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.selection.breaker import CircuitBreaker
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

from .selection_catalog import DF, write_catalog


@dataclass
class SilentLLM:
    """Accepts connections, reads nothing back, never answers; counts the connections."""

    port: int = 0
    connections: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: list[asyncio.Task[None]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)  # type: ignore[arg-type]
        try:
            await self.stop.wait()  # set at teardown
        finally:
            writer.close()


@pytest.fixture
async def silent() -> AsyncIterator[SilentLLM]:
    llm = SilentLLM()
    server = await asyncio.start_server(llm.handle, "127.0.0.1", 0)
    llm.port = server.sockets[0].getsockname()[1]
    async with server:
        yield llm
        llm.stop.set()
        await asyncio.gather(*llm.handlers)
        server.close()


def _tied_selector(tmp_path: Path, port: int) -> Selector:
    twin = DF.replace("name: df", "name: bdf")
    folder = write_catalog(tmp_path / "c", {"a.yaml": DF, "b.yaml": twin})
    settings = Settings(
        llm_url=f"http://127.0.0.1:{port}/api/chat",
        llm_timeout_s=0.3,
        llm_breaker_failures=2,
        llm_breaker_cooldown_s=3600,
        semantic=False,
    )
    return Selector(FolderSource(folder), settings)


async def _tied(selector: Selector) -> SelectionResult:
    result = await selector.aselect(SelectionRequest(request="is the disk full"))
    assert result.tie_break.used
    return result


def _skipped_count() -> float:
    return metrics.SELECTION_TIE_BREAKS.labels("skipped")._value.get()


async def test_a_silent_llm_is_skipped_after_repeated_timeouts(
    silent: SilentLLM, tmp_path: Path
) -> None:
    selector = _tied_selector(tmp_path, silent.port)
    assert selector.llm_status == "closed"
    for _ in range(2):
        asked = await _tied(selector)
        assert not asked.tie_break.llm_skipped
        assert "timed out" in (asked.tie_break.justification or "")
    assert silent.connections == 2
    assert selector.llm_status.startswith("open: 2 failure(s) in a row")
    assert metrics.LLM_BREAKER_OPEN._value.get() == 1
    skipped_before = _skipped_count()
    for _ in range(3):
        skipped = await _tied(selector)
        assert skipped.tie_break.llm_skipped
        assert skipped.tie_break.method == "deterministic"
        assert "circuit breaker open" in (skipped.tie_break.justification or "")
        assert skipped.decision is not None
    assert silent.connections == 2  # the LLM was not contacted while the breaker was open
    assert _skipped_count() == skipped_before + 3


async def test_after_the_cool_down_one_request_probes_and_a_failure_reopens(
    silent: SilentLLM, tmp_path: Path
) -> None:
    now = [0.0]
    selector = _tied_selector(tmp_path, silent.port)
    selector.breaker = CircuitBreaker(2, 60.0, clock=lambda: now[0])
    for _ in range(2):
        await _tied(selector)
    assert (await _tied(selector)).tie_break.llm_skipped
    now[0] = 61.0
    assert selector.llm_status == "half_open"
    probe = await _tied(selector)
    assert not probe.tie_break.llm_skipped
    assert silent.connections == 3
    assert selector.llm_status.startswith("open")
    assert (await _tied(selector)).tie_break.llm_skipped


def test_an_answer_closes_the_breaker_and_only_one_caller_probes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 10.0, clock=lambda: now[0])
    assert breaker.acquire() is None
    breaker.record(failed=True)
    assert breaker.state == "open"
    assert breaker.acquire() is not None
    now[0] = 10.0
    assert breaker.acquire() is None  # the probe
    assert breaker.acquire() is not None  # a second caller meanwhile is skipped
    breaker.record(failed=False)
    assert breaker.state == "closed"
    assert metrics.LLM_BREAKER_OPEN._value.get() == 0
