"""`toolcatalog serve`: migrate, import the starter catalog into an empty database, serve HTTP.

With `--workers N` every worker is its own process with its own cache; they stay coherent
through LISTEN/NOTIFY, exactly like separate replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess

from toolcatalog.cli import output
from toolcatalog.cli.running import EXIT_INVALID, cli_settings
from toolcatalog.config import Settings
from toolcatalog.logs import configure_logging
from toolcatalog.runtime import (
    WORKER_PARENT_PID_ENV,
    database_server,
    exit_without_finalising,
    first_start,
    open_runtime,
)


async def _prepare(settings: Settings) -> tuple[int, int | None]:
    """Migrate and, on first start, import the catalog; returns (tool count, imported)."""
    async with open_runtime(settings, listen=False) as runtime:
        report, admin_key = await first_start(runtime)
        if admin_key is not None:
            _hand_over_admin_key(settings, admin_key)
        return await runtime.catalog.tool_count(), (len(report.created) if report else None)


def _hand_over_admin_key(settings: Settings, secret: str) -> None:
    """The first admin key: the operator's own (TOOLCATALOG_ADMIN_KEY), or written to
    TOOLCATALOG_ADMIN_KEY_FILE with mode 0600, or printed once (stdout may end up in a
    log store: prefer one of the two settings under systemd or Kubernetes)."""
    if settings.admin_key is not None:
        output.out.print("first start: admin API key is the one given in TOOLCATALOG_ADMIN_KEY")
        return
    if (path := settings.admin_key_file) is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secret + "\n")
        except OSError as exc:
            # Not printed instead: the operator asked for it not to reach stdout.
            output.report_message(
                f"cannot write the first admin key to {path}: {exc.strerror or exc}; "
                "create one with `toolcatalog keys create --name NAME --role admin`"
            )
            return
        output.out.print(f"first start: admin API key written to {path} (mode 0600)")
        return
    output.out.print(f"first start: admin API key (shown once): {secret}", markup=False)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [TOOLCATALOG_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [TOOLCATALOG_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes [TOOLCATALOG_WORKERS].")
    ] = None,
) -> None:
    """Serve the REST API (default 127.0.0.1:3005), with the embedded database unless
    DATABASE_URL is set."""
    base = cli_settings()
    overrides = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    settings = base.model_copy(update=overrides)
    configure_logging(settings.log_level)
    # uvicorn re-raises SIGTERM after its graceful shutdown; by default that kills us before
    # `finally` runs and the embedded PostgreSQL would be left behind. Exit normally instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    # Bound first: a busy port fails before any work, and the banner below says the truth.
    sock = _listen(settings)
    database = database_server(settings)
    url = database.start_embedded()  # a no-op with DATABASE_URL; the server outlives workers
    try:
        # Workers (and this process's runtime) reach the same server through the URL.
        os.environ["DATABASE_URL"] = url
        settings = settings.model_copy(update={"database_url": url})
        count, imported = asyncio.run(_prepare(settings))
        where = database.display_url
        output.out.print(
            f"toolcatalog {_version()} listening on http://{settings.host}:{settings.port} "
            f"({settings.workers} worker(s)); database: {where}; {count} tools"
            + (
                f" ({imported} imported from {settings.resolved_catalog_dir()})" if imported else ""
            ),
            highlight=False,
        )
        output.out.print(f"API docs: http://{settings.host}:{settings.port}/docs", highlight=False)
        with contextlib.suppress(SystemExit):  # raised by _exit_on_signal: a graceful stop
            _run_uvicorn(settings, sock)
    finally:
        sock.close()
        asyncio.run(database.close())
    exit_without_finalising()


def _exit_on_signal(_signum: int, _frame: object) -> None:
    # An asked-for stop that went through the graceful shutdown is a success: exit 0, as
    # uvicorn's multi-worker supervisor does.
    raise SystemExit(0)


def _version() -> str:
    from toolcatalog.config import toolcatalog_version

    return toolcatalog_version()


def _listen(settings: Settings) -> socket.socket:
    """The listening socket, bound here (as uvicorn would) so that a busy port is one clear
    line and exit 1 instead of a log line and uvicorn's exit 3 after the banner."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        output.report_message(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}; "
            "stop what uses it or choose another port (--port or TOOLCATALOG_PORT)"
        )
        raise typer.Exit(EXIT_INVALID) from None
    sock.set_inheritable(True)  # the workers of --workers N inherit it
    return sock


def _run_uvicorn(settings: Settings, sock: socket.socket) -> None:
    folder: Path | None = None
    if settings.workers > 1:
        # The workers share one listening socket and each accepts every connection waiting
        # when it wakes, so a burst of connections can land on one worker (a wrk run at
        # 0.57x the others). This makes libuv (uvloop) accept one connection at a time and
        # yield, which makes that rarer, not impossible (docs/performance.md).
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client shares values between processes through files in this folder;
        # it must be set before the workers import it, and start empty.
        folder = Path(tempfile.mkdtemp(prefix="toolcatalog-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    config = uvicorn.Config(
        "toolcatalog.api.asgi:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,  # ours is the middleware's line, with the request id
        timeout_graceful_shutdown=10,  # in-flight requests get this long after SIGTERM
        server_header=False,
        # --workers N: the parent pings each worker and kills one that does not answer in
        # this long, also while it is still starting (spawning a worker imports this CLI
        # first). uvicorn's 5 s killed and respawned starting workers in a loop on a
        # busy 2-core machine (load average 12: no worker ever came up, tests/e2e).
        timeout_worker_healthcheck=30,
    )
    server = uvicorn.Server(config)
    try:
        if settings.workers > 1:
            os.environ[WORKER_PARENT_PID_ENV] = str(os.getpid())  # workers die with this process
            # Their Settings come from the environment: `--workers N` given on the command
            # line decides TOOLCATALOG_SELECT_PROCESS=auto there too (off with N > 1).
            os.environ["TOOLCATALOG_WORKERS"] = str(settings.workers)
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if settings.workers == 1 and not server.started:
        # The application did not start (its error is logged above): not a usage error.
        raise typer.Exit(EXIT_INVALID)
