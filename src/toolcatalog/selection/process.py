"""SelectionProcess: a server worker's selector in a process of its own (`toolcatalog.sidecar`),
so that ranking, index builds and embeddings hold that process's GIL and not the worker's,
whose event loop goes on serving reads and writes on the other core.

The worker keeps this handle where the in-process Selector was: it answers the doors' calls
(`aselect_json`, `aselect`, `semantic_status`, ...) by frames over a socket pair
(selection/channel.py), many selects in flight at once, matched by id. The process is a
headless replica: its own pool, change listener and catalog state, its Selector, selection
log and learning refresher; a write on the worker reaches it by NOTIFY like another
replica's (within the second the issue allows selection to lag a write).

Lifecycle: `start()` spawns the process (a fresh interpreter, never a fork of the worker's
threads and pool) and waits until it has loaded the catalog and built its first index. If it
dies, the selects in flight fail at once with SelectionUnavailable (503, Retry-After), new
ones too until it is back, and it is started again with a backoff. It ends with the worker:
`close()` closes the channel and it drains and exits; a worker that dies any other way closes
the socket too (end of stream), and the process exits on that (and on the parent's death
signal, Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.errors import SelectionUnavailable
from toolcatalog.logs import request_id_var
from toolcatalog.selection.channel import (
    ChannelClosed,
    Kind,
    error_from,
    frame,
    read_frame,
)
from toolcatalog.selection.experiments import RunningExperiment, VariantConfig
from toolcatalog.selection.feedback import FeedbackMemory, LabelledExample
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.profiles import ObservedProfiles
from toolcatalog.selection.semantic import Progress

log = logging.getLogger(__name__)

# What the selection process counts that the worker's /metrics reports: the process sends
# what they grew by with its status (metrics.py has the worker's registry only).
FORWARDED_COUNTERS = (
    metrics.SELECTION_DECISIONS,
    metrics.SELECTION_TIE_BREAKS,
    metrics.SELECTIONS_RECORDED,
    metrics.SELECTIONS_DROPPED,
)

CHILD_MODULE = "toolcatalog.sidecar"
# Restarts wait BACKOFF_FIRST_S, doubled after each quick death up to BACKOFF_MAX_S; a process
# that lived STABLE_S resets it.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0
STABLE_S = 30.0
# How long `close()` lets the process drain (flush its selection log) before SIGTERM, then
# SIGKILL.
STOP_S = 10.0


def counter_totals() -> dict[tuple[int, tuple[str, ...]], float]:
    """(index in FORWARDED_COUNTERS, label values) -> total, in this process."""
    totals: dict[tuple[int, tuple[str, ...]], float] = {}
    for index, counter in enumerate(FORWARDED_COUNTERS):
        for family in counter.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    totals[(index, tuple(sample.labels.values()))] = sample.value
    return totals


class SelectionProcess:
    """The doors' selector, answered by a selection process. `start()` before use, `close()`
    at the end; both on the worker's event loop."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        command: Sequence[str] | None = None,
        ready_timeout_s: float = 600.0,
    ) -> None:
        """`database_url`: the worker's database (the embedded server's when it runs one);
        `command`: what starts the process, given the channel's file descriptor last."""
        self.settings = settings
        self._child_settings = settings.model_copy(update={"database_url": database_url})
        self._command = list(command or [sys.executable, "-m", CHILD_MODULE])
        self._ready_timeout_s = ready_timeout_s
        self._writer: asyncio.StreamWriter | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: dict[int, tuple[asyncio.Future[bytes], Any]] = {}
        self._next_id = 0
        self._status: dict[str, Any] = {}
        self._down = "starting"  # why selects are refused now; "" while up
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self.restarts = 0
        self.pid: int | None = None
        # Set by the worker's learning refresher: the console reads `observed`; the
        # selection process keeps its own copies (and is told of feedback given here).
        self.observed: ObservedProfiles | None = None
        self.memory: FeedbackMemory | None = None
        self.experiment: RunningExperiment | None = None
        self.promoted: VariantConfig | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the process and wait until it answers; raises SelectionUnavailable when it
        exits first or is not ready within the timeout (it is stopped then)."""
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._supervisor = asyncio.create_task(self._supervise(first), name="selection-process")
        try:
            await asyncio.wait_for(asyncio.shield(first), self._ready_timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self, timeout_s: float = STOP_S) -> bool:
        """Close the channel: the process finishes the selects it has, flushes its selection
        log and exits (SIGTERM, then SIGKILL, after `timeout_s`). True: nothing left."""
        self._closing, self._down = True, "closed"
        task, self._supervisor = self._supervisor, None
        writer = self._writer
        if writer is not None:
            writer.close()
        process = self._process
        if process is not None and process.returncode is None:
            await _stop(process, timeout_s)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        return True

    async def _supervise(self, first: asyncio.Future[None]) -> None:
        backoff = BACKOFF_FIRST_S
        while not self._closing:
            started = time.monotonic()
            why = await self._run_once(first)
            if first.done() and first.exception() is not None:
                return  # never came up: start() reports it
            if self._closing:
                return
            if time.monotonic() - started >= STABLE_S:
                backoff = BACKOFF_FIRST_S
            self.restarts += 1
            metrics.SELECTION_PROCESS_RESTARTS.inc()
            log.error("the selection process ended (%s); starting it again in %.1f s", why, backoff)
            self._down = f"selection process ended ({why}); restarting"
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _run_once(self, first: asyncio.Future[None]) -> str:
        """Run one selection process until its channel closes; returns why it ended."""
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            if not first.done():
                first.set_exception(SelectionUnavailable(f"cannot start: {exc}"))
            return f"cannot start: {exc}"
        finally:
            theirs.close()
        self._process, self.pid = process, process.pid
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        why = "channel closed"
        try:
            writer.write(frame(0, Kind.HELLO, self._child_settings.model_dump_json().encode()))
            while True:
                request_id, kind, payload = await read_frame(reader)
                if kind is Kind.READY:
                    self._writer, self._down = writer, ""
                    metrics.SELECTION_PROCESS_UP.set(1)
                    if not first.done():
                        first.set_result(None)
                    log.info("selection process %d ready", process.pid)
                elif kind is Kind.STATUS:
                    self._take_status(orjson.loads(payload))
                else:
                    self._settle(request_id, kind, payload)
        except ChannelClosed as exc:
            why = str(exc)
        finally:
            self._writer = None
            self._down = "closed" if self._closing else "selection process ended; restarting"
            metrics.SELECTION_PROCESS_UP.set(0)
            writer.close()
            self._fail_waiting(why)  # at once: not after the process's stop below
            if process.returncode is None and not self._closing:
                await _stop(process, STOP_S)
            code = await process.wait() if not self._closing else process.returncode
            why = f"exit status {code}" if code is not None else why
            if not first.done():
                first.set_exception(SelectionUnavailable(f"selection process ended: {why}"))
        return why

    def _fail_waiting(self, why: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(
                    SelectionUnavailable(f"the selection process ended ({why}): retry")
                )

    # -- frames ----------------------------------------------------------------------------

    async def _ask(
        self, kind: Kind, payload: bytes, then: Callable[[bytes], None] | None = None
    ) -> bytes:
        writer = self._writer
        if writer is None:
            raise SelectionUnavailable(f"selection is not available: {self._down}")
        self._next_id = self._next_id % 0xFFFFFFFF + 1  # never 0 (unasked frames)
        request_id = self._next_id
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        # `then` runs in the asking task's context (its request id), as run_beside's does.
        self._waiting[request_id] = (future, (then, contextvars.copy_context()))
        writer.write(frame(request_id, kind, payload))
        try:
            return await future
        finally:
            self._waiting.pop(request_id, None)

    def _settle(self, request_id: int, kind: Kind, payload: bytes) -> None:
        entry = self._waiting.pop(request_id, None)
        if entry is None:
            return  # its asker was cancelled
        future, (then, context) = entry
        if future.done():
            return
        if kind is Kind.ERROR:
            future.set_exception(error_from(payload))
            return
        if then is not None:
            try:
                context.run(then, payload)
            except Exception as exc:  # the asker's to handle, as in run_beside
                future.set_exception(exc)
                return
        future.set_result(payload)

    def _tell(self, kind: Kind, payload: bytes) -> None:
        """A frame that wants no answer (id 0); dropped while the process is down."""
        if self._writer is not None:
            self._writer.write(frame(0, kind, payload))

    def _take_status(self, status: dict[str, Any]) -> None:
        self._status = status
        for index, labels, delta in status.get("counts", ()):
            if 0 <= index < len(FORWARDED_COUNTERS):
                counter = FORWARDED_COUNTERS[index]
                (counter.labels(*labels) if labels else counter).inc(delta)

    # -- the selector's interface ----------------------------------------------------------

    async def aselect_json(
        self,
        request: SelectionRequest,
        subject: str | None = None,
        then: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """Selector.aselect_json's bytes, ranked in the selection process; `then` gets them
        on the loop the moment they arrive, before this returns them. The duration metric is
        the round trip here (the process's own count of decisions comes with its status)."""
        started = time.perf_counter()
        payload = orjson.dumps(
            {
                "subject": subject,
                "request_id": request_id_var.get(),
                "request": request.model_dump(mode="json", by_alias=True, exclude_unset=True),
            }
        )
        answer = await self._ask(Kind.SELECT, payload, then)
        metrics.SELECTION_DURATION.observe(time.perf_counter() - started)
        return answer

    async def aselect(
        self, request: SelectionRequest, subject: str | None = None
    ) -> SelectionResult:
        return SelectionResult.model_validate_json(await self.aselect_json(request, subject))

    async def await_semantic(self, *, complete: bool = True) -> bool:
        """Selector.await_semantic, in the selection process."""
        payload = b"complete" if complete else b"settled"
        return await self._ask(Kind.AWAIT_SEMANTIC, payload) == b"true"

    async def aselect_index(self) -> None:
        """Nothing to build here: the selection process built its index before READY."""

    @property
    def semantic_status(self) -> str:
        if self._down:
            return f"unavailable: {self._down}"
        return str(self._status.get("semantic_status", "waiting"))

    @property
    def semantic_progress(self) -> Progress | None:
        progress = self._status.get("semantic_progress")
        return None if progress is None else Progress(*(int(n) for n in progress))

    @property
    def llm_status(self) -> str:
        return str(self._status.get("llm_status", "off"))

    @property
    def process_status(self) -> str:
        """up (pid) | starting | restarting: why."""
        return f"up (pid {self.pid})" if not self._down else self._down

    def learned(self, example: LabelledExample) -> None:
        """Feedback given through the worker: the selection process learns it at once."""
        self._tell(
            Kind.LEARN,
            orjson.dumps(
                {"request": example.request, "tool": example.tool, "positive": example.positive}
            ),
        )

    async def experiments_changed(self) -> None:
        with contextlib.suppress(SelectionUnavailable):
            await self._ask(Kind.REFRESH_EXPERIMENTS, b"")

    async def ensure_recorded(self, selection_id: uuid.UUID) -> None:
        """Feedback on a selection still queued in the selection process's log flushes it."""
        with contextlib.suppress(SelectionUnavailable):
            await self._ask(Kind.ENSURE_RECORDED, str(selection_id).encode())


async def _stop(process: asyncio.subprocess.Process, timeout_s: float) -> None:
    """Wait `timeout_s` for the process to exit, then SIGTERM, then SIGKILL."""
    for signal_it in (None, process.terminate, process.kill):
        if signal_it is not None:
            with contextlib.suppress(ProcessLookupError):
                signal_it()
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
            return
        except TimeoutError:
            continue
