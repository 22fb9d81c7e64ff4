"""`python -m toolcatalog.sidecar FD`: a server worker's selection process (selection/process.py
starts it). A headless door: it opens a runtime from the Settings the worker sends first (its
own pool, change listener, catalog state, Selector, selection log, learning refresher; no
migrations, no telemetry maintenance), says READY once the catalog is read and the first index
built, then answers the worker's frames (selection/channel.py) until the channel closes:
each select ranked by `Selector.aselect_json`, the same code and bytes as in process."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import faulthandler
import logging
import signal
import socket
import sys
import uuid
from typing import Any

import orjson
from pydantic import ValidationError

from toolcatalog.config import Settings
from toolcatalog.errors import CatalogError, InvalidDefinition
from toolcatalog.logs import configure_logging, request_id_var
from toolcatalog.runtime import Runtime, exit_without_finalising, open_runtime
from toolcatalog.selection.beside import short_switch_interval
from toolcatalog.selection.channel import (
    ChannelClosed,
    Kind,
    error_payload,
    frame,
    internal_payload,
    read_frame,
)
from toolcatalog.selection.feedback import LabelledExample
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.process import counter_totals

log = logging.getLogger("toolcatalog.sidecar")

STATUS_EVERY_S = 0.5
# How long the selects in flight may finish once the worker closed the channel, and how long
# the whole stop may take before the process exits regardless.
DRAIN_S = 5.0
FLUSH_S = 5.0
# A bound on the whole stop, kept as a guard: the change listener's stop once waited 30 s and
# more after SIGTERM (a cancellation swallowed by Python 3.11's asyncio.wait_for as a drop came
# with it; fixed in ChangeListener.stop). The selections are flushed by then.
STOP_S = 15.0
_PR_SET_PDEATHSIG = 1


class Door:
    """Answers one worker's frames from `runtime`."""

    def __init__(self, runtime: Runtime, writer: asyncio.StreamWriter) -> None:
        self.runtime = runtime
        self.writer = writer
        self.tasks: set[asyncio.Task[None]] = set()
        self._sent_status: dict[str, Any] = {}
        self._totals = counter_totals()

    def send(self, request_id: int, kind: Kind, payload: bytes = b"") -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(request_id, kind, payload))

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Until the worker closes the channel; then the selects in flight finish."""
        reporting = asyncio.create_task(self._report_status())
        try:
            while True:
                try:
                    request_id, kind, payload = await read_frame(reader)
                except ChannelClosed:
                    break
                task = asyncio.create_task(self._answer(request_id, kind, payload))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=DRAIN_S)
        finally:
            reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporting

    async def _answer(self, request_id: int, kind: Kind, payload: bytes) -> None:
        try:
            if kind is Kind.SELECT:
                await self._select(request_id, payload)
                return
            answer = await self._other(kind, payload)
        except CatalogError as exc:
            self.send(request_id, Kind.ERROR, error_payload(exc))
            return
        except Exception as exc:
            log.exception("selection process: %s failed", kind.name)
            self.send(request_id, Kind.ERROR, internal_payload(exc))
            return
        if request_id:
            self.send(request_id, Kind.ANSWER, answer)

    async def _select(self, request_id: int, payload: bytes) -> None:
        data = orjson.loads(payload)
        request_id_var.set(str(data.get("request_id") or "-"))
        try:
            request = SelectionRequest.model_validate(data["request"])
        except ValidationError as exc:  # the worker validated it: a version skew
            raise InvalidDefinition(f"the selection process refused the request: {exc}") from exc

        def sent(answer: bytes) -> None:
            self.send(request_id, Kind.ANSWER, answer)

        await self.runtime.selector.aselect_json(request, data.get("subject"), sent)

    async def _other(self, kind: Kind, payload: bytes) -> bytes:
        runtime = self.runtime
        if kind is Kind.LEARN:
            data = orjson.loads(payload)
            runtime.learning.learn(
                LabelledExample(str(data["request"]), str(data["tool"]), bool(data["positive"]))
            )
        elif kind is Kind.REFRESH_EXPERIMENTS:
            await runtime.learning.refresh_experiments()
        elif kind is Kind.ENSURE_RECORDED:
            await runtime.selections.ensure_recorded(uuid.UUID(payload.decode()))
        elif kind is Kind.AWAIT_SEMANTIC:
            ready = await runtime.selector.await_semantic(complete=payload != b"settled")
            self.report_status()  # ahead of the answer: the worker's status agrees with it
            return b"true" if ready else b"false"
        else:
            raise InvalidDefinition(f"the selection process does not take {kind.name} frames")
        return b""

    async def _report_status(self) -> None:
        """The selector's status when it changed, and what the forwarded counters grew by."""
        while True:
            self.report_status()
            await asyncio.sleep(STATUS_EVERY_S)

    def report_status(self) -> None:
        selector = self.runtime.selector
        status: dict[str, Any] = {
            "semantic_status": selector.semantic_status,
            "semantic_progress": _listed(selector.semantic_progress),
            "llm_status": selector.llm_status,
        }
        totals = counter_totals()
        counts = [
            [index, list(labels), total - self._totals.get((index, labels), 0.0)]
            for (index, labels), total in totals.items()
            if total != self._totals.get((index, labels), 0.0)
        ]
        if status == self._sent_status and not counts:
            return
        self._totals = totals
        self._sent_status = status
        self.send(0, Kind.STATUS, orjson.dumps(status | {"counts": counts}))


def _listed(progress: tuple[int, ...] | None) -> list[int] | None:
    return None if progress is None else list(progress)  # a NamedTuple orjson does not take


async def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    _, kind, payload = await read_frame(reader)
    if kind is not Kind.HELLO:
        raise ChannelClosed(f"expected HELLO first, got {kind.name}")
    settings = Settings.model_validate_json(payload)
    configure_logging(settings.log_level)  # a few lines: unbuffered, none lost at exit
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    async with open_runtime(settings, migrate=False, selection_only=True) as runtime:
        door = Door(runtime, writer)
        door.send(0, Kind.READY)
        door.report_status()
        serving = asyncio.create_task(door.serve(reader))
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        _exit_by_force_after(STOP_S)
        log.info(
            "selection process stopping: %s",
            "SIGTERM" if stopping.is_set() else "the worker closed the channel",
        )
        for task in (serving, stop):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # What must not be lost goes first: the rest of the stop may be cut short.
        with contextlib.suppress(CatalogError, TimeoutError):
            await asyncio.wait_for(runtime.selections.flush(), FLUSH_S)
    writer.close()
    log.info("selection process stopped")
    # Now, not after asyncio.run: its clean-up joins the default executor's threads without
    # a bound (an index or catalog build of a large catalog in progress), and the
    # interpreter's finalisation could hang on an encoder thread.
    exit_without_finalising()


def _exit_by_force_after(seconds: float) -> None:
    """The worker is gone or going: this process ends within `seconds` whatever its
    shutdown waits on (its selection log is flushed first), with every thread's stack on
    stderr to say what that was."""
    faulthandler.dump_traceback_later(seconds, exit=True)


def _die_with_parent() -> None:
    """SIGTERM when the worker dies, even by SIGKILL (Linux); the closed channel says the
    same everywhere, a moment later."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m toolcatalog.sidecar FD (started by a server worker)")
    _die_with_parent()
    # Its loop reads the worker's frames and sends the answers beside the ranking threads, as
    # a worker's loop does: at CPython's default interval each hand-over waited up to 5 ms.
    with short_switch_interval(), contextlib.suppress(ChannelClosed):
        asyncio.run(serve(int(sys.argv[1])))
    exit_without_finalising()  # the channel closed before the runtime opened


if __name__ == "__main__":
    main()
