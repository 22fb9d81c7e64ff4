"""start_sending: an answer's ASGI messages sent from a plain loop callback, and the rest
handed to the task when a send has to wait (a client that does not read)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from toolcatalog.api.eager_send import start_sending

MESSAGES: list[Message] = [
    {"type": "http.response.start", "status": 200, "headers": []},
    {"type": "http.response.body", "body": b"{}"},
]


async def test_a_send_that_does_not_wait_goes_out_at_once() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    assert start_sending(send, MESSAGES) is None
    assert sent == MESSAGES


async def test_a_send_that_waits_hands_the_rest_to_the_caller_in_order() -> None:
    sent: list[Message] = []
    drained = asyncio.get_running_loop().create_future()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await drained  # the transport's buffer is full until the client reads
        await asyncio.sleep(0)
        sent.append(message)

    rest = start_sending(send, MESSAGES)
    assert rest is not None
    assert sent == []
    waiting = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    assert sent == []
    drained.set_result(None)
    await waiting
    assert sent == MESSAGES


async def test_what_a_send_raises_at_once_reaches_the_caller() -> None:
    async def send(message: Message) -> None:
        raise RuntimeError("Expected ASGI message 'http.response.body'")

    with pytest.raises(RuntimeError, match="Expected ASGI message"):
        start_sending(send, MESSAGES)


async def test_what_a_send_raises_after_waiting_reaches_the_task_that_awaits_the_rest() -> None:
    drained = asyncio.get_running_loop().create_future()

    async def send(message: Message) -> None:
        await drained

    rest = start_sending(send, MESSAGES)
    assert rest is not None
    drained.set_exception(ConnectionResetError("client gone"))
    with pytest.raises(ConnectionResetError, match="client gone"):
        await rest


async def test_cancelling_the_task_that_awaits_the_rest_cancels_the_send() -> None:
    drained = asyncio.get_running_loop().create_future()
    cancelled: list[bool] = []

    async def send(message: Message) -> None:
        try:
            await drained
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    rest = start_sending(send, MESSAGES)
    assert rest is not None
    waiting = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert cancelled == [True]
