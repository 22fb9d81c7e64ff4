"""The frames between a server worker and its selection process (selection/sidecar.py): a
header of (request id, kind, payload length) and the payload, over a local stream socket.
Requests are pipelined: the answers come back in the order their selections finish, matched
by id. A CatalogError raised in the selection process crosses as its class name, detail and
problems, and is raised again on the worker's side as the same class."""

from __future__ import annotations

import asyncio
import struct
from enum import IntEnum
from typing import Any

import orjson

from toolcatalog import errors
from toolcatalog.errors import CatalogError, InvalidDefinition, Problem

HEADER = struct.Struct(">IBI")  # request id, kind, payload length
# A select's answer with explain at 100,000 tools is well under a megabyte; a frame claiming
# more is a broken peer, not an answer to wait for.
MAX_FRAME = 64 << 20


class Kind(IntEnum):
    # worker -> selection process
    HELLO = 0  # id 0, first: the Settings as JSON (the database URL included)
    SELECT = 1  # {"subject", "request"} -> ANSWER: the answer's JSON bytes
    LEARN = 2  # id 0: {"request", "tool", "positive"}, no answer
    REFRESH_EXPERIMENTS = 3  # -> ANSWER b""
    ENSURE_RECORDED = 4  # the selection id -> ANSWER b""
    AWAIT_SEMANTIC = 5  # b"complete" | b"settled" -> ANSWER b"true" | b"false"
    # selection process -> worker
    ANSWER = 64
    ERROR = 65  # {"type", "detail", "problems"}
    # id 0, unasked, on a change: {"semantic_status", "semantic_progress", "llm_status",
    # "decisions": {method: count since the last}, "tie_breaks": {outcome: count since}}
    STATUS = 66
    READY = 67  # id 0, once: the process answers selects from now


class ChannelClosed(ConnectionError):
    """The other end closed the channel, or sent something that is not a frame."""


def frame(request_id: int, kind: Kind, payload: bytes = b"") -> bytes:
    return HEADER.pack(request_id, kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, Kind, bytes]:
    """The next frame; raises ChannelClosed at the end of the stream or on a bad header."""
    try:
        header = await reader.readexactly(HEADER.size)
        request_id, kind, length = HEADER.unpack(header)
        if length > MAX_FRAME:
            raise ChannelClosed(f"a frame of {length} bytes (at most {MAX_FRAME})")
        payload = await reader.readexactly(length) if length else b""
        return request_id, Kind(kind), payload
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ChannelClosed(str(exc) or "end of stream") from exc
    except ValueError as exc:  # an unknown kind
        raise ChannelClosed(str(exc)) from exc


def error_payload(exc: CatalogError) -> bytes:
    problems = exc.problems if isinstance(exc, InvalidDefinition) else []
    return orjson.dumps(
        {
            "type": type(exc).__name__,
            "detail": exc.detail,
            "problems": [[p.path, p.message, p.file, p.line] for p in problems],
        }
    )


def internal_payload(exc: Exception) -> bytes:
    """What crosses for an unexpected exception (logged where it happened): a 500 here."""
    return orjson.dumps({"type": INTERNAL, "detail": f"selection failed: {type(exc).__name__}"})


class SelectionFailed(RuntimeError):
    """An unexpected error in the selection process (its log has the trace)."""


INTERNAL = "internal"


def error_from(payload: bytes) -> Exception:
    """The CatalogError `error_payload` described (a CatalogError of an unknown type keeps its
    detail as a plain CatalogError), or SelectionFailed for `internal_payload`."""
    data: dict[str, Any] = orjson.loads(payload)
    if data.get("type") == INTERNAL:
        return SelectionFailed(str(data.get("detail", "")))
    kind = getattr(errors, str(data.get("type")), None)
    detail = str(data.get("detail", ""))
    if isinstance(kind, type) and issubclass(kind, InvalidDefinition):
        return kind(detail, [Problem(*p) for p in data.get("problems", [])])
    if isinstance(kind, type) and issubclass(kind, CatalogError):
        try:
            return kind(detail)
        except TypeError:  # a subclass that takes more than a detail
            pass
    return CatalogError(detail)
