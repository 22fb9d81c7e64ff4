"""JSON log lines: the server's batched handler and the access line's fast path, which must
write exactly what the formatter would."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import orjson
import pytest

from toolcatalog.logs import (
    BufferedStreamHandler,
    JsonFormatter,
    access_log,
    log_access,
    request_id_var,
    utc_timestamp,
)

FIELDS = {"method": "GET", "route": "/api/v1/tools/{name}", "status": 200, "duration_ms": 0.1}


@pytest.fixture
def server_logging() -> Iterator[tuple[io.StringIO, BufferedStreamHandler]]:
    """The root logger as `toolcatalog serve` sets it up (its one handler), writing into a
    string. Tests call `alone(handler)` first: pytest adds its capture handlers to the root
    logger when the test body starts."""
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval_s=3600)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.setLevel(logging.INFO)
    try:
        yield stream, handler
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        handler.close()


def alone(handler: logging.Handler) -> None:
    logging.getLogger().handlers[:] = [handler]


def test_access_lines_wait_for_the_next_ordinary_record(
    server_logging: tuple[io.StringIO, BufferedStreamHandler],
) -> None:
    stream, handler = server_logging
    alone(handler)
    token = request_id_var.set("req-1")
    try:
        log_access(FIELDS)
        log_access(FIELDS)
    finally:
        request_id_var.reset(token)
    assert stream.getvalue() == ""  # batched
    logging.getLogger("toolcatalog.test").info("shutting down")
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["request", "request", "shutting down"]
    assert lines[0]["request_id"] == "req-1"


def test_the_fast_access_line_is_what_the_formatter_writes(
    server_logging: tuple[io.StringIO, BufferedStreamHandler],
) -> None:
    stream, handler = server_logging
    alone(handler)
    log_access(FIELDS)
    assert stream.getvalue() == ""  # the fast path batches
    handler.flush()
    fast = orjson.loads(stream.getvalue())
    record = access_log.makeRecord(
        access_log.name, logging.INFO, __name__, 0, "request", (), None, extra=FIELDS
    )
    formatted = orjson.loads(JsonFormatter().format(record))
    assert fast.keys() == formatted.keys()
    assert {k: v for k, v in fast.items() if k != "ts"} == {
        k: v for k, v in formatted.items() if k != "ts"
    }
    # Both in UTC, ISO-8601 with milliseconds and the offset.
    for line in (fast, formatted):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"]), line


def test_a_timestamp_is_utc_with_milliseconds() -> None:
    assert utc_timestamp(1796184317.1239) == "2026-12-02T04:05:17.123Z"


def test_access_lines_follow_the_level(
    server_logging: tuple[io.StringIO, BufferedStreamHandler],
) -> None:
    stream, handler = server_logging
    alone(handler)
    logging.getLogger().setLevel(logging.WARNING)
    log_access(FIELDS)
    handler.flush()
    assert stream.getvalue() == ""
