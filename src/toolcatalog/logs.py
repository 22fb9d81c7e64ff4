"""Logging set-up (JSON lines) and the request-id context variable every record carries."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from typing import IO, Any

import orjson

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


def utc_timestamp(created: float) -> str:
    """UTC ISO-8601 with milliseconds and the offset: 2026-12-02T04:05:17.123Z."""
    second = int(created)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{text}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields passed with `extra=` are kept."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class BufferedStreamHandler(logging.StreamHandler[IO[str]]):
    """A StreamHandler that batches access lines (`emit_formatted`): they are written at most
    `interval_s` seconds apart, or when 64 KiB wait. Any other record is written at once,
    pushing the batch out before it, so lifecycle lines (and a graceful exit) lose nothing.

    For the server: a write per request cost more than the rest of a cached read
    (docs/performance.md). A killed process loses at most `interval_s` of access lines.
    """

    def __init__(self, stream: IO[str], interval_s: float) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._size = 0
        self._closed = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(interval_s,), name="log-flusher", daemon=True
        )
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)  # under self.lock: Handler.handle holds it
        self._write()

    def emit_formatted(self, line: str) -> None:
        """Queue an access line already formatted as this handler's formatter would."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            self._size += len(line)
            if self._size > 65536:
                self._write()

    def _write(self) -> None:
        if not self._pending:
            return
        text, self._pending, self._size = "".join(self._pending), [], 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stream closed or gone: nothing better to do
            pass

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _flush_every(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()
        super().close()


access_log = logging.getLogger("toolcatalog.access")
_ts_second = -1
_ts_text = ""


def log_access(fields: dict[str, Any]) -> None:
    """The one access line of a request (INFO on `toolcatalog.access`, with the request id).

    In the server (one buffered JSON handler on the root, nothing on the access logger) the
    line is encoded here directly: a LogRecord and its formatting cost a third of a cached
    read. Anywhere else it goes through logging like every other record."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    root_handlers = logging.root.handlers
    if (
        len(root_handlers) == 1
        and isinstance(root_handlers[0], BufferedStreamHandler)
        and not access_log.handlers
        and not access_log.filters
        and access_log.propagate
    ):
        global _ts_second, _ts_text
        now = time.time()
        second = int(now)
        if second != _ts_second:  # the seconds of JsonFormatter's "ts", made once a second
            _ts_second, _ts_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        doc = {
            "ts": f"{_ts_text}.{int((now - second) * 1000):03d}Z",
            "level": "INFO",
            "logger": access_log.name,
            "msg": "request",
            "request_id": request_id_var.get(),
        }
        doc.update(fields)
        root_handlers[0].emit_formatted(orjson.dumps(doc, default=str).decode() + "\n")
        return
    record = access_log.makeRecord(
        access_log.name, logging.INFO, __name__, 0, "request", (), None, extra=fields
    )
    access_log.handle(record)


def configure_logging(level: str = "INFO", *, buffer_s: float | None = None) -> None:
    """Install the JSON handler on the root logger once (idempotent). With `buffer_s` (the
    server), lines are written in batches at most that many seconds apart."""
    root = logging.getLogger()
    for installed in list(root.handlers):
        if isinstance(installed.formatter, JsonFormatter):
            if buffer_s is None or isinstance(installed, BufferedStreamHandler):
                root.setLevel(level.upper())
                return
            root.removeHandler(installed)  # upgrade the plain handler to a buffered one
    handler: logging.Handler = (
        BufferedStreamHandler(sys.stderr, buffer_s)
        if buffer_s is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # pgserver logs every step of starting PostgreSQL at INFO; its warnings still show.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
