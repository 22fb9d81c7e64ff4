"""Change notices between replicas over PostgreSQL LISTEN/NOTIFY.

A write sends `pg_notify('tool_catalog_changes', ...)` inside its own transaction, so other
replicas hear of it only if it commits. Each replica keeps one dedicated listening connection;
when that connection drops it reconnects and invalidates everything, since it may have
missed notices while it was away.
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

log = logging.getLogger(__name__)

CHANNEL = "tool_catalog_changes"
# NOTIFY payloads must stay under 8000 bytes; past this many names we say "everything".
_MAX_NAMES = 100


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    origin: str
    generation: int
    names: tuple[str, ...] = ()
    everything: bool = False

    def encode(self) -> str:
        everything = self.everything or len(self.names) > _MAX_NAMES
        return orjson.dumps(
            {
                "origin": self.origin,
                "generation": self.generation,
                "names": [] if everything else list(self.names),
                "everything": everything,
            }
        ).decode()

    @classmethod
    def decode(cls, payload: str) -> ChangeNotice:
        try:
            doc = orjson.loads(payload)
            return cls(
                str(doc["origin"]),
                int(doc["generation"]),
                tuple(str(n) for n in doc.get("names", [])),
                bool(doc.get("everything", False)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # An unreadable notice still means "something changed".
            return cls("unknown", -1, (), True)


async def notify_change(conn: Any, notice: ChangeNotice) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, notice.encode())


class ChangeListener:
    """Keeps a LISTEN connection open, calling `on_notice` for each notice and `on_reconnect`
    after every (re)connection that follows a drop."""

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
        self.connected = asyncio.Event()
        self.reconnects = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), timeout=2)
            self._conn = None
        self.connected.clear()
        metrics.LISTENER_CONNECTED.set(0)

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_notice(ChangeNotice.decode(payload))

    async def _run(self) -> None:
        delay = 0.2
        first = True
        while True:
            try:
                self._conn = await asyncpg.connect(self._url, timeout=self._connect_timeout_s)
                await self._conn.add_listener(CHANNEL, self._deliver)
                self.connected.set()
                metrics.LISTENER_CONNECTED.set(1)
                if not first:
                    self.reconnects += 1
                    log.info("change listener reconnected; invalidating all caches")
                    self._on_reconnect()
                first = False
                delay = 0.2
                # asyncpg reports a dead connection only when used: probe it regularly.
                while not self._conn.is_closed():
                    await asyncio.sleep(self._check_interval_s)
                    await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("change listener connection failed", extra={"error": str(exc)})
                # Whatever happened, notices may have been missed: invalidate on reconnect.
                first = False
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
