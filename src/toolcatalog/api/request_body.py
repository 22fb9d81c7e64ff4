"""A request's body read ahead of routing by the middleware's early paths, and given to the
route unchanged when the early path leaves the request to it."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The request's body (None when the client went away first) and a receive that gives
    the route the messages read here first."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    replay = _replay(messages, receive)
    if message["type"] != "http.request":
        return None, replay
    return b"".join(m.get("body", b"") for m in messages), replay


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive`, giving `messages` (already received) first."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
