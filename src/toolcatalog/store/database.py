"""The connection pool, the embedded server, and `transaction()` for the service layer.

`Database` is the only object that opens connections. Store functions take a connection;
the catalog service wraps them in `async with db.transaction() as conn:` so that each write
is one transaction. Errors leave here already translated into the CatalogError tree.

Faults: every wait is bounded (connect and acquire by `db_connect_timeout_s`, statements by
`db_command_timeout_s`). Once the server is known to be unreachable, operations fail at once
with StoreUnavailable while one probe at a time tries for real (reachability.py); asyncpg's
pool replaces dead connections by itself, and the first operation that succeeds again runs
the recovery callbacks (the runtime invalidates the caches there: the replica may have missed
change notices while the database was away). Each connection is opened as
connection_settings.py says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.errors import CatalogError, StoreUnavailable
from toolcatalog.store.connection_settings import init_connection, redact, server_settings
from toolcatalog.store.embedded import EmbeddedPostgres
from toolcatalog.store.errors import translate
from toolcatalog.store.reachability import Reachability

log = logging.getLogger(__name__)

Connection = asyncpg.Connection  # re-exported so upper layers need not import asyncpg


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
        self._reach = Reachability()
        self._releasing: set[asyncio.Future[None]] = set()  # see _acquired
        # Server pids of pooled connections given back with no session state to undo (see
        # `statement`): the pool's reset skips its query for them, once.
        self._untouched: set[int] = set()

    @property
    def available(self) -> bool:
        """False from the first failure that says the server is unreachable until the next
        operation that succeeds."""
        return self._reach.available

    @property
    def last_error(self) -> str | None:
        """The failure that made the server count as unreachable; None while it is reachable."""
        return self._reach.last_error

    @property
    def probe_interval_s(self) -> float:
        """While the server is down, at most one real attempt per this many seconds."""
        return self._reach.probe_interval_s

    @probe_interval_s.setter
    def probe_interval_s(self, value: float) -> None:
        self._reach.probe_interval_s = value

    def add_recovery_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback` after the first successful operation that follows an outage."""
        self._reach.on_recovered.append(callback)

    @classmethod
    def pinned_to(cls, settings: Settings, conn: Any) -> Database:
        """A Database whose work all happens on `conn`, inside whatever transaction it holds;
        the tests use it to roll every test back."""
        return cls(settings, url="pinned", pinned=conn)

    @property
    def pinned(self) -> bool:
        """Whether every operation happens on one connection inside a test's transaction."""
        return self._pinned is not None

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
        attempts = 0
        while True:
            attempts += 1
            try:
                self._pool = await asyncpg.create_pool(
                    self.url,
                    min_size=min(self.settings.pool_min_size, self.settings.pool_max_size),
                    max_size=self.settings.pool_max_size,
                    command_timeout=self.settings.db_command_timeout_s,
                    timeout=self.settings.db_connect_timeout_s,
                    init=self._init_connection,
                    reset=self._reset_connection,
                    server_settings=server_settings(self.settings),
                )
                metrics.DB_UP.set(1)
                if attempts > 1:
                    log.info("database reachable", extra={"attempts": attempts})
                self._update_pool_gauges()
                return
            except (
                asyncpg.InvalidAuthorizationSpecificationError,
                asyncpg.InvalidPasswordError,
            ) as exc:
                # Waiting will not fix a wrong user or password.
                raise StoreUnavailable(
                    f"PostgreSQL at {self.display_url} refused the login: {exc}"
                ) from None
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                if time.monotonic() + delay > deadline:
                    metrics.DB_UP.set(0)
                    raise StoreUnavailable(
                        f"cannot reach PostgreSQL at {self.display_url}: {exc}; check that it is "
                        "running and that DATABASE_URL is right"
                    ) from None
                log.warning(
                    "database not reachable yet, retrying",
                    extra={
                        "database": self.display_url,
                        "error": f"{exc.__class__.__name__}: {exc}",
                        "retry_in_s": delay,
                        "gives_up_in_s": round(deadline - time.monotonic(), 1),
                    },
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._releasing:
            await asyncio.wait(set(self._releasing), timeout=10)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                # close() waits for checked-out connections; bounded, then cut them.
                await asyncio.wait_for(pool.close(), timeout=10)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                pool.terminate()
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
            async with self._acquired() as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self, operation: str = "write") -> AsyncIterator[Any]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._writing(operation, begin=True) as conn:
            yield conn

    @asynccontextmanager
    async def statement(self, operation: str = "write") -> AsyncIterator[Any]:
        """A connection whose statements are each their own transaction (no BEGIN and
        COMMIT round trips): for a write that is one statement, such as a function call.
        Pinned to a test's transaction, the block is a savepoint, so a refused statement
        leaves the test's transaction usable, as a real one would leave the pool's.

        The caller's statements must leave no session state behind (no SET, LISTEN,
        session advisory lock, cursor or prepared statement of its own): a block that ends
        without an error gives the connection back without the pool's reset query, which
        is one more statement per block (see `_reset_connection`)."""
        async with self._writing(operation, begin=False) as conn:
            yield conn

    @asynccontextmanager
    async def _writing(self, operation: str, *, begin: bool) -> AsyncIterator[Any]:
        async with self._measured(operation):
            if self._pinned is not None:
                async with self._pinned.transaction():
                    yield self._pinned
                return
            async with self._acquired(untouched=not begin) as conn:
                if not begin:
                    yield conn
                    return
                async with conn.transaction():
                    yield conn

    @asynccontextmanager
    async def snapshot_read(self, operation: str = "read") -> AsyncIterator[Any]:
        """A read-only REPEATABLE READ transaction: several queries see one consistent state."""
        async with self._measured(operation):
            if self._pinned is not None:
                # Already inside the test's transaction; isolation cannot change in a savepoint.
                yield self._pinned
                return
            async with (
                self._acquired() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield conn

    @asynccontextmanager
    async def _acquired(self, *, untouched: bool = False) -> AsyncIterator[Any]:
        """A pooled connection, given back beside the caller: the caller goes on at once.
        asyncpg's release (its reset statement, a round trip, in a task of its own behind
        `asyncio.shield`) cost whoever awaited it two or three turns of the event loop, each
        as long as a request's latency under load. In the patch mix at 64 connections a
        patch waited 52-71 ms for it of a 160-213 ms median (server side, traced per step),
        and held its tool's turn meanwhile (writes.py), so the next writer of the tool
        waited too. The connection is back in the pool a few turns later; `close` waits for
        such releases."""
        pool = self._require_pool()
        conn = await pool.acquire(timeout=self.settings.db_connect_timeout_s)
        clean = False
        try:
            yield conn
            clean = untouched
        finally:
            if clean:
                self._untouched.add(conn.get_server_pid())
            release = asyncio.ensure_future(pool.release(conn))
            self._releasing.add(release)
            release.add_done_callback(self._released)

    async def _init_connection(self, conn: Any) -> None:
        # A new connection's backend may reuse the pid of one closed without a reset.
        self._untouched.discard(conn.get_server_pid())
        await init_connection(conn)

    async def _reset_connection(self, conn: Any) -> None:
        """The pool's reset of a connection given back (after asyncpg's own, which rolls back
        an open transaction and drops listeners): asyncpg's reset query (`RESET ALL`,
        `UNLISTEN *`, `CLOSE ALL`, advisory locks), but for a connection that `statement`
        gave back untouched. Each statement is a round trip whose sending and answer cost the
        event loop: in the patch mix (get 98, patch 2; session 14, py-spy of the loop
        thread) the resets after a patch's write and after its change notice were 7.9 % of
        the loop's samples."""
        pid = conn.get_server_pid()
        if pid in self._untouched:
            self._untouched.discard(pid)
            return
        if query := conn.get_reset_query():
            await conn.execute(query)

    def _released(self, release: asyncio.Future[None]) -> None:
        self._releasing.discard(release)
        if not release.cancelled() and (exc := release.exception()) is not None:
            # asyncpg has terminated the connection; the pool opens another when needed.
            log.warning("releasing a pooled connection failed: %s", exc)
        if self._pool is not None:
            self._update_pool_gauges()

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the database pool is not open")
        self._reach.probe()
        return self._pool

    @asynccontextmanager
    async def _measured(self, operation: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            if isinstance(exc, StoreUnavailable):
                error: CatalogError | None = exc
            elif isinstance(exc, TimeoutError):  # asyncpg's own command or connect timeout
                error = StoreUnavailable(
                    "the database did not answer in time (a connection or a statement timed out)"
                )
            else:
                error = translate(exc)
            if error is None:  # not from the database: a domain error or a bug, pass it on
                self._reach.mark_up()
                raise
            if isinstance(error, StoreUnavailable):
                metrics.DB_ERRORS.labels(operation, "unavailable").inc()
                self._reach.mark_down(exc)
            else:
                metrics.DB_ERRORS.labels(operation, "refused").inc()
                self._reach.mark_up()
            if error is exc:
                raise
            raise error from exc
        else:
            self._reach.mark_up()
        finally:
            metrics.DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - start)
            if self._pool is not None:
                self._update_pool_gauges()

    def _update_pool_gauges(self) -> None:
        size, in_use = self.pool_stats()
        metrics.DB_POOL_SIZE.set(size)
        metrics.DB_POOL_IN_USE.set(in_use)
