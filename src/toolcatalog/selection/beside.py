"""Work in a thread pool beside the event loop, whose result a caller can use the moment the
loop learns of it, a turn before the awaiting task wakes.

`loop.run_in_executor` completes its future from a callback the worker thread queues on the
loop, and that wakes the awaiting task one more turn later. Under load a turn is as long as a
cached GET's latency (docs/performance.md, "Mixed load"), so a select spent about two of them
after its ranking was done. `run_beside` calls `then(result)` in the completing callback
itself (on the loop, in the caller's context), so a door can send the answer from there
(api/eager_send.py), and the task that awaits the future finishes the request afterwards.

`short_switch_interval` is the GIL's switch interval of a process whose loop shares the GIL
with such threads (a server worker, a selection process).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

# The event loop shares the GIL with the threads beside it (the selector's ranking). A thread
# that wants the GIL waits up to the switch interval for it at every hand-over, and a select
# hands over many times (each query encoding and large array operation releases it): at
# CPython's default of 5 ms a select ranking beside a loop busy with GETs took tens of ms to
# its few ms of CPU.
# `python bench/load.py --mixes` (quiet machine, get 95 / select 5): p99 76-84 ms at 5 ms,
# 40-42 ms at 0.5 ms, the same throughput (docs/performance.md, "the GIL's switch interval").
SWITCH_INTERVAL_S = 0.0005


@contextlib.contextmanager
def short_switch_interval() -> Iterator[None]:
    """The process runs with SWITCH_INTERVAL_S as the GIL's switch interval inside the block
    (the previous one after it): for a process whose loop answers beside `run_beside`'s
    threads, so that neither waits the default 5 ms for the other at a hand-over."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_beside(
    pool: Executor,
    work: Callable[..., T],
    *args: object,
    then: Callable[[T], None] | None = None,
) -> asyncio.Future[T]:
    """`work(*args)` in `pool`, in the calling task's context (its request id reaches the
    log records written there). `then(result)`, when given, runs on the loop as soon as the
    loop learns the result, before the returned future is done; what it raises becomes
    the future's exception. Cancelling the future cancels the work if it has not started."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    done: asyncio.Future[T] = loop.create_future()
    work_done = pool.submit(context.run, work, *args)

    def complete(finished: Future[T]) -> None:  # on the loop
        if done.cancelled():
            return
        if finished.cancelled():
            done.cancel()
            return
        error = finished.exception()
        if error is not None:
            done.set_exception(error)
            return
        result = finished.result()
        if then is not None:
            try:
                then(result)
            except Exception as exc:  # the awaiting task's to handle, as if the work raised
                done.set_exception(exc)
                return
        done.set_result(result)

    def queue(finished: Future[T]) -> None:  # in the worker thread (or here, if already done)
        # A closed loop (RuntimeError): nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(complete, finished, context=context)

    def cancel_work(future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            work_done.cancel()

    done.add_done_callback(cancel_work)
    work_done.add_done_callback(queue)
    return done
