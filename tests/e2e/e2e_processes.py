"""Real processes for end-to-end tests: `toolcatalog serve` on free ports, and a private
PostgreSQL that a test may stop and start (fixtures in conftest.py). Every process started
here is stopped (SIGTERM, then SIGKILL of its whole process group) when the test ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest

from toolcatalog.catalog.keys import Role
from toolcatalog.config import Settings
from toolcatalog.runtime import open_runtime

TOOLCATALOG = str(Path(sys.executable).with_name("toolcatalog"))
# Liveness bound for waiting on processes (generous: CI machines can be 5x oversubscribed);
# timing is measured in bench/, never asserted.
PATIENCE_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    """SIGTERM, wait, then SIGKILL the whole process group; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # workers left behind by a parent that died badly
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Servers:
    """Starts `toolcatalog serve` processes and stops them all at the end of the test."""

    home: Path
    started: list[Server] = field(default_factory=list)

    def start(
        self, env: dict[str, str], *, workers: int = 1, wait: bool = True, port: int | None = None
    ) -> Server:
        port = port or free_port()
        log = self.home / f"serve-{port}.log"
        inherited = ("TOOLCATALOG_", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        full_env |= {
            "TOOLCATALOG_HOME": str(self.home),
            "TOOLCATALOG_IMPORT_ON_START": "false",
            "TOOLCATALOG_PORT": str(port),
            "TOOLCATALOG_WORKERS": str(workers),
            "TOOLCATALOG_POOL_MIN_SIZE": "1",
            "TOOLCATALOG_POOL_MAX_SIZE": "4",
        } | env
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [TOOLCATALOG, "serve"],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.home,
            )
        server = Server(proc, f"http://127.0.0.1:{port}", log)
        self.started.append(server)
        if wait:
            wait_healthy(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            stop_process(server.proc)
        # An embedded PostgreSQL outlives a `serve` that had to be SIGKILLed: stop it too.
        pgdata = self.home / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            _stop_postgres(pgdata)


def _stop_postgres(pgdata: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs it as this user as root
    with contextlib.suppress(subprocess.CalledProcessError):
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)


def wait_healthy(server: Server, *, status: str = "healthy") -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE_S
    last: Any = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"serve exited with {server.proc.returncode}:\n{server.logs()[-4000:]}")
        try:
            last = httpx.get(server.url + "/api/v1/tools/health", timeout=5).json()
            if last.get("status") == status:
                return dict(last)
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    pytest.fail(f"not {status} after {PATIENCE_S} s (last: {last}):\n{server.logs()[-4000:]}")


def eventually(condition: Callable[[], bool], what: str) -> float:
    """Poll `condition` until it holds; the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > PATIENCE_S:
            pytest.fail(f"still waiting after {PATIENCE_S} s for: {what}")
        time.sleep(0.02)
    return time.monotonic() - start


async def admin_key(settings: Settings, url: str) -> str:
    """An admin API key created directly in the database at `url` (so `serve` creates none)."""
    async with open_runtime(
        settings.model_copy(update={"database_url": url}), listen=False
    ) as runtime:
        created = await runtime.keys.create("e2e_admin", Role.admin)
    return created.secret


class StoppablePostgres:
    """A private PostgreSQL (pgserver's binaries) that a test stops and starts with pg_ctl,
    keeping its socket, so clients see a real outage and a real recovery; or freezes
    (SIGSTOP), so clients see a database that accepts and never answers.

    Its folder is a fresh one under the system's temporary directory, not the test's
    tmp_path: as root, pgserver runs PostgreSQL as the `pgserver` user, which must traverse
    every parent folder, and each pytest session that starts (others run beside this one on
    a shared machine) resets /tmp/pytest-of-<user> to mode 0700. pg_ctl then failed with
    "Permission denied", and pgserver's clean-up went on to terminate a postmaster that was
    already gone (psutil.NoSuchProcess at teardown)."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs on XDG_RUNTIME_DIR
            import pgserver
            from pgserver._commands import pg_ctl

        self._pg_ctl = pg_ctl
        self._folder = Path(tempfile.mkdtemp(prefix="toolcatalog-e2e-pg-"))
        # cleanup_mode=None: close() stops the server and deletes the folder itself,
        # tolerating processes that are already gone.
        self._server = pgserver.get_server(self._folder / "pgdata", cleanup_mode=None)
        self.url: str = self._server.get_uri()
        self._socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(list(args), pgdata=self._server.pgdata, user=self._server.system_user)

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        log = str(self._server.log)
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", log, "start")

    def close(self) -> None:
        """Stop the server (if it runs: a test may have stopped it) and delete its folder.
        Tolerates processes that are already gone, whoever ended them."""
        self.thaw()  # a frozen server cannot stop
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("-w", "-m", "immediate", "stop")
        self._server.cleanup()  # with cleanup_mode=None: only forgets the handle
        shutil.rmtree(self._folder, ignore_errors=True)

    def _processes(self) -> list[psutil.Process]:
        """The postmaster and its children, as they are now (none if it is stopped)."""
        try:
            pid = int((self._folder / "pgdata" / "postmaster.pid").read_text().split()[0])
            postmaster = psutil.Process(pid)
            return [postmaster, *postmaster.children(recursive=True)]
        except (FileNotFoundError, IndexError, ValueError, psutil.NoSuchProcess):
            return []

    def freeze(self) -> None:
        """SIGSTOP every PostgreSQL process: connections stay open, nothing answers (a hung
        server, a stalled disk). `thaw()` resumes them."""
        for proc in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.suspend()

    def thaw(self) -> None:
        for proc in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()
