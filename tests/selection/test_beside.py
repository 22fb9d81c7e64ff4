"""run_beside: work in a thread pool whose result a caller gets on the loop, in the callback
that completes the hop, before the awaiting task wakes."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from toolcatalog.selection.beside import SWITCH_INTERVAL_S, run_beside, short_switch_interval

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


async def test_then_gets_the_result_on_the_loop_before_the_awaiting_task_wakes(
    pool: ThreadPoolExecutor,
) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, bool, object, str]] = []
    where.set("caller")

    def then(result: tuple[int, int]) -> None:
        # Not in a task: a plain callback of the loop, in the caller's context.
        seen.append((threading.get_ident(), future.done(), asyncio.current_task(), where.get()))

    future = run_beside(pool, lambda a, b: (threading.get_ident(), a + b), 2, 3, then=then)
    worker, total = await future
    assert total == 5
    assert worker != loop_thread
    assert seen == [(loop_thread, False, None, "caller")]


async def test_the_work_runs_in_the_callers_context(pool: ThreadPoolExecutor) -> None:
    where.set("request 1")
    assert await run_beside(pool, where.get) == "request 1"


async def test_what_the_work_raises_reaches_the_awaiting_task_and_then_is_not_called(
    pool: ThreadPoolExecutor,
) -> None:
    called: list[object] = []

    def work() -> int:
        raise ValueError("no ranking")

    with pytest.raises(ValueError, match="no ranking"):
        await run_beside(pool, work, then=called.append)
    assert called == []


async def test_what_then_raises_reaches_the_awaiting_task(pool: ThreadPoolExecutor) -> None:
    def then(_result: int) -> None:
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="the client went away"):
        await run_beside(pool, lambda: 1, then=then)


async def test_cancelling_before_the_work_starts_cancels_it_and_then_is_not_called(
    pool: ThreadPoolExecutor,
) -> None:
    gate = threading.Event()
    busy = run_beside(pool, gate.wait, 30)  # holds the pool's only thread
    ran: list[int] = []
    queued = run_beside(pool, lambda: ran.append(1), then=lambda _: ran.append(2))
    queued.cancel()
    await asyncio.sleep(0)  # the cancellation reaches the pool (a done callback, next turn)
    gate.set()
    assert await busy is True
    with pytest.raises(asyncio.CancelledError):
        await queued
    await run_beside(pool, lambda: None)  # queued after it: the pool is past it
    assert ran == []


def test_short_switch_interval_shortens_the_switch_interval_inside_and_restores_it() -> None:
    before = sys.getswitchinterval()
    inside: list[float] = []

    def fail_inside() -> None:
        with short_switch_interval():
            inside.append(sys.getswitchinterval())
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError, match="the block failed"):
        fail_inside()
    assert inside == [pytest.approx(SWITCH_INTERVAL_S)]
    assert before > SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before
