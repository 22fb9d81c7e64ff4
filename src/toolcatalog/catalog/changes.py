"""Change notices between replicas over PostgreSQL LISTEN/NOTIFY.

A write of the catalog records its change in the change log (store/changes.py) in its own
transaction and, once that committed, `ChangeAnnouncer` sends its notice
(`pg_notify('tool_catalog_changes', ...)`) beside the writers; other replicas hear only of
committed changes. Each replica keeps one dedicated listening connection; when that
connection drops it reconnects and invalidates everything, since it may have missed notices
while it was away. A notice lost while the listener stayed up (its writer died between the
commit and the notice) is found in the change log (CatalogState.catch_up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from toolcatalog import metrics
from toolcatalog.store.database import Database

log = logging.getLogger(__name__)

CHANNEL = "tool_catalog_changes"
# NOTIFY payloads must stay under 8000 bytes; past this many names we say "everything".
MAX_NAMES = 100
# How long stop() waits for the task between two cancellations.
STOP_RETRY_S = 1.0
# The liveness probe's bound (a silent network); a close's too.
PROBE_TIMEOUT_S = 2.0
# A notice waits this long before it goes, so that the notices of the batches committed
# meanwhile go with it in one statement. Each statement's send and answer cost the event
# loop more than its CPU: py-spy of the default mix put the announcer's statements (about
# one per committed write batch) at 5.2 % of the loop thread's samples (session 14); at the
# bench's ~100 batches a second, several batches now share one. Replicas hear of a change
# this much later, well inside the second of coherence the state promises.
ANNOUNCE_PAUSE_S = 0.05


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """What changed: tools by name (or `everything`), or, with `keys_changed`, the API keys
    (a revocation: every replica forgets the keys it verified; no tool is touched)."""

    origin: str
    generation: int
    names: tuple[str, ...] = ()
    everything: bool = False
    keys_changed: bool = False
    change: int | None = None  # the change's id in the change log

    def payload(self) -> dict[str, Any]:
        """The notice as a JSON document (`encode` is its text)."""
        everything = self.everything or len(self.names) > MAX_NAMES
        return (
            {
                "origin": self.origin,
                "generation": self.generation,
                "names": [] if everything else list(self.names),
                "everything": everything,
            }
            | ({"keys_changed": True} if self.keys_changed else {})
            | ({"change": self.change} if self.change is not None else {})
        )

    def encode(self) -> str:
        return orjson.dumps(self.payload()).decode()

    @classmethod
    def decode(cls, payload: str) -> ChangeNotice:
        try:
            doc = orjson.loads(payload)
            return cls(
                str(doc["origin"]),
                int(doc["generation"]),
                tuple(str(n) for n in doc.get("names", [])),
                bool(doc.get("everything", False)),
                bool(doc.get("keys_changed", False)),
                int(doc["change"]) if doc.get("change") is not None else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # An unreadable notice still means "something changed".
            return cls("unknown", -1, (), True)


async def notify_change(conn: Any, notice: ChangeNotice) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, notice.encode())


class ChangeAnnouncer:
    """Sends the notices of committed changes beside their writers: `announce` returns at
    once; the notices announced within ANNOUNCE_PAUSE_S, or while one statement is in flight,
    go in the next, together.

    Not in the write's transaction: there NOTIFY takes PostgreSQL's one notify lock from before
    the commit to after its WAL flush, so every writer's commit waited for the others' (the
    `object` lock waits of session 13's traces). A transaction that only notifies writes no
    WAL and waits for no flush. A notice that cannot be sent is logged and dropped: replicas
    find its change in the change log. On a database pinned to a test's transaction nothing is
    sent (a notice there is never delivered: the transaction never commits)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[str] = []
        self._sending: asyncio.Task[None] | None = None

    def announce(self, notice: ChangeNotice) -> None:
        if self.db.pinned:
            return
        self._waiting.append(notice.encode())
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        while self._waiting:
            await asyncio.sleep(ANNOUNCE_PAUSE_S)
            payloads, self._waiting = self._waiting, []
            try:
                async with self.db.statement("notify") as conn:  # no reset after it
                    await conn.execute(
                        "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL, payloads
                    )
            except Exception as exc:
                log.warning(
                    "change notices not sent; other replicas find the changes in the log",
                    extra={"notices": len(payloads), "error": f"{exc.__class__.__name__}: {exc}"},
                )

    async def close(self) -> None:
        """Wait for the notices announced so far."""
        while self._sending is not None and not self._sending.done():
            await asyncio.wait({self._sending})


class ChangeListener:
    """Keeps a LISTEN connection open, calling `on_notice` for each notice and `on_reconnect`
    after every (re)connection that follows a drop (notices may have been missed meanwhile).

    A drop is noticed at once when the server closes the connection (asyncpg's termination
    callback), and within `check_interval_s` + 2 s when the network goes silent (a probe).
    Reconnection backs off from 0.2 s to 5 s.
    """

    def __init__(
        self,
        url: str,
        on_notice: Callable[[ChangeNotice], None],
        on_reconnect: Callable[[], None],
        *,
        connect_timeout_s: float = 3.0,
        check_interval_s: float = 1.0,
    ) -> None:
        self._url = url
        self._on_notice = on_notice
        self._on_reconnect = on_reconnect
        self._connect_timeout_s = connect_timeout_s
        self._check_interval_s = check_interval_s
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._dropped = asyncio.Event()
        self._stopping = False
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.backend_pid: int | None = None  # of the LISTEN connection, for operators and tests

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-listener")

    async def stop(self) -> None:
        """End the listener and close its connection. The loop also checks `_stopping`, and
        the cancellation is repeated until the task ends: a cancellation that lands as an
        awaited call finishes can be lost inside a library (Python 3.11's `wait_for` returns
        normally then), and once that left the task reconnecting forever."""
        self._stopping = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RETRY_S)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.warning("the change listener ended with an error", exc_info=task.exception())
        await self._close()

    async def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await conn.close()
            except Exception:  # already broken: cut it
                conn.terminate()
        self.connected.clear()
        self.backend_pid = None
        metrics.LISTENER_CONNECTED.set(0)

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._on_notice(ChangeNotice.decode(payload))
        except Exception:
            log.exception("applying a change notice failed")

    def _terminated(self, _conn: Any) -> None:
        self._dropped.set()

    async def _connect(self) -> None:
        self._dropped.clear()
        self._conn = await asyncpg.connect(self._url, timeout=self._connect_timeout_s)
        self._conn.add_termination_listener(self._terminated)
        await self._conn.add_listener(CHANNEL, self._deliver)
        self.backend_pid = self._conn.get_server_pid()
        self.connected.set()
        metrics.LISTENER_CONNECTED.set(1)

    async def _watch(self) -> None:
        """Return when the connection is gone."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that comes
        # as the awaited call finishes (a drop and a stop together), and the task runs on.
        while not self._conn.is_closed() and not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._check_interval_s):
                    await self._dropped.wait()
            if self._dropped.is_set() or self._conn.is_closed():
                return
            # asyncpg learns of a silent network only when it uses the connection.
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                await self._conn.execute("SELECT 1")

    async def _run(self) -> None:
        delay = 0.2
        missed = False  # True once a connection was lost or could not be made
        while not self._stopping:
            try:
                await self._connect()
                if missed:
                    self.reconnects += 1
                    metrics.LISTENER_RECONNECTS.inc()
                    log.info("change listener reconnected; invalidating all caches")
                    self._on_reconnect()
                delay = 0.2
                await self._watch()
                if self._stopping:
                    return
                log.warning("change listener connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "change listener connection failed",
                    extra={"error": f"{exc.__class__.__name__}: {exc}", "retry_in_s": delay},
                )
            missed = True
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
