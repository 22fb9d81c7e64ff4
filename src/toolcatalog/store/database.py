"""The connection pool, the embedded server, and `transaction()` for the service layer.

`Database` is the only object that opens connections. Store functions take a connection;
the catalog service wraps them in `async with db.transaction() as conn:` so that each write
is one transaction. Errors leave here already translated into the CatalogError tree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.errors import StoreUnavailable
from toolcatalog.store.embedded import EmbeddedPostgres
from toolcatalog.store.errors import is_unavailable, translate

log = logging.getLogger(__name__)

Connection = asyncpg.Connection  # re-exported so upper layers need not import asyncpg


def redact(url: str) -> str:
    """The URL without its password, for logs and banners."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


SERVER_SETTINGS = {"search_path": "tool_catalog, public", "application_name": "toolcatalog"}


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: Any) -> None:
    """Per-connection set-up: jsonb as Python data via orjson. (The search path is a startup
    parameter, SERVER_SETTINGS, because the pool's RESET ALL would undo a SET.)"""
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


class Database:
    """A pool to one PostgreSQL database (external via DATABASE_URL, or embedded)."""

    def __init__(
        self,
        settings: Settings,
        *,
        url: str | None = None,
        pinned: Any | None = None,
    ) -> None:
        self.settings = settings
        self._url = url or settings.database_url
        self._embedded: EmbeddedPostgres | None = None
        self._pool: asyncpg.Pool | None = None
        # A pinned connection (tests): every transaction nests into its outer transaction.
        self._pinned = pinned

    @classmethod
    def pinned_to(cls, settings: Settings, conn: Any) -> Database:
        """A Database whose work all happens on `conn`, inside whatever transaction it holds;
        the tests use it to roll every test back."""
        return cls(settings, url="pinned", pinned=conn)

    @property
    def url(self) -> str:
        return self._url or ""

    @property
    def display_url(self) -> str:
        if self._embedded is not None:
            return f"embedded PostgreSQL at {self._embedded.data_dir}"
        return redact(self.url)

    def start_embedded(self) -> str:
        """Start the embedded server when no DATABASE_URL is set; returns the URL."""
        if self._url is None:
            self._embedded = EmbeddedPostgres(Path(self.settings.home) / "pgdata")
            self._url = self._embedded.start()
        return self._url

    async def open(self, *, wait_s: float | None = None) -> None:
        """Create the pool, retrying with backoff while the server is unreachable."""
        if self._pinned is not None:
            return
        self.start_embedded()
        deadline = time.monotonic() + (self.settings.startup_retry_s if wait_s is None else wait_s)
        delay = 0.25
        while True:
            try:
                self._pool = await asyncpg.create_pool(
                    self.url,
                    min_size=min(self.settings.pool_min_size, self.settings.pool_max_size),
                    max_size=self.settings.pool_max_size,
                    command_timeout=self.settings.db_command_timeout_s,
                    timeout=self.settings.db_connect_timeout_s,
                    init=init_connection,
                    server_settings=SERVER_SETTINGS,
                )
                metrics.DB_UP.set(1)
                return
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                if time.monotonic() + delay > deadline:
                    metrics.DB_UP.set(0)
                    raise StoreUnavailable(
                        f"cannot reach PostgreSQL at {self.display_url}: {exc}; check that it is "
                        "running and that DATABASE_URL is right"
                    ) from None
                log.warning(
                    "database not reachable yet, retrying",
                    extra={"error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._pool is not None:
            await asyncio.wait_for(self._pool.close(), timeout=10)
            self._pool = None
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    def pool_stats(self) -> tuple[int, int]:
        """(open connections, checked out)."""
        if self._pool is None:
            return (1, 1) if self._pinned is not None else (0, 0)
        size = self._pool.get_size()
        return size, size - self._pool.get_idle_size()

    @asynccontextmanager
    async def connection(self, operation: str = "query") -> AsyncIterator[Any]:
        """A connection for reads, timed and with errors translated."""
        async with self._measured(operation):
            if self._pinned is not None:
                yield self._pinned
                return
            pool = self._require_pool()
            async with pool.acquire(timeout=self.settings.db_connect_timeout_s) as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self, operation: str = "write") -> AsyncIterator[Any]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._measured(operation):
            if self._pinned is not None:
                async with self._pinned.transaction():
                    yield self._pinned
                return
            pool = self._require_pool()
            async with (
                pool.acquire(timeout=self.settings.db_connect_timeout_s) as conn,
                conn.transaction(),
            ):
                yield conn

    @asynccontextmanager
    async def snapshot_read(self, operation: str = "read") -> AsyncIterator[Any]:
        """A read-only REPEATABLE READ transaction: several queries see one consistent state."""
        async with self._measured(operation):
            if self._pinned is not None:
                # Already inside the test's transaction; isolation cannot change in a savepoint.
                yield self._pinned
                return
            pool = self._require_pool()
            async with (
                pool.acquire(timeout=self.settings.db_connect_timeout_s) as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield conn

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the database pool is not open")
        return self._pool

    @asynccontextmanager
    async def _measured(self, operation: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            error = translate(exc)
            if error is None:  # not from the database: a domain error or a bug, pass it on
                raise
            kind = "unavailable" if isinstance(error, StoreUnavailable) else "refused"
            metrics.DB_ERRORS.labels(operation, kind).inc()
            if is_unavailable(exc):
                metrics.DB_UP.set(0)
            raise error from exc
        else:
            metrics.DB_UP.set(1)
        finally:
            metrics.DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - start)
