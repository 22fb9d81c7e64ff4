"""Sending an answer from a plain event-loop callback, before the request's task wakes.

Under load a turn of the event loop is as long as a cached GET's latency (at 64 connections
each turn answers about one request per connection: ~64 / throughput, 7-20 ms), and a
request whose work ran in a thread pays two of them after the thread is done: the callback
that completes its future runs in the next turn, and the task it wakes in the one after
(docs/performance.md, "Mixed load"). A door that can send its answer from the first of those
callbacks answers a turn sooner; the task still wakes afterwards and finishes the request
(its log line, its metrics) as before.

The ASGI `send` is a coroutine function, but the servers' `send` completes without waiting
unless the transport's buffer is full (flow control): `start_sending` runs it at once, and
when it does have to wait, hands back an awaitable of the rest for the task to await, so
a slow client is still waited for in the request's own task. Nothing here assumes that a
send never waits; a send that waits merely loses the head start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any

from starlette.types import Message, Send


def start_sending(send: Send, messages: Iterable[Message]) -> Awaitable[None] | None:
    """Send `messages` in order, starting now (outside any task): None when all went out
    without waiting, else an awaitable of the rest, which the caller must await (in a task)."""
    steps = _send_all(send, list(messages))
    try:
        waited = steps.send(None)
    except StopIteration:
        return None
    except BaseException:
        steps.close()
        raise
    return _rest(steps, waited)


async def _send_all(send: Send, messages: list[Message]) -> None:
    for message in messages:
        await send(message)


async def _rest(steps: Coroutine[Any, Any, None], waited: Any) -> None:
    """Drive `steps` on from the point where it suspended on `waited`, as a task would: await
    what it waits for, then resume it (throwing in what that raised, cancellation included)."""
    while True:
        try:
            if waited is None:  # a bare yield (asyncio.sleep(0)): one turn of the loop
                await asyncio.sleep(0)
            else:
                # A future the send awaits, yielded marked as blocking (asyncio's protocol
                # between futures and tasks): taken over here as a task takes it over.
                waited._asyncio_future_blocking = False
                await waited
        except BaseException as exc:  # handed to the suspended send, as a task would
            try:
                waited = steps.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waited = steps.send(None)
        except StopIteration:
            return
