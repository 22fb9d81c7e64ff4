"""Processes for bench/load.py: PostgreSQL, `toolcatalog serve`, the bare app, and the CPU
accounting that says how much of the machine each of them (and everything else) used."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    pid: int | None = None  # the server's main process, for CPU accounting
    semantic: str = "unknown"  # the health's semantic_retrieval when it was first served
    log: Path | None = None  # the server's output (its JSON log lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session, stopped with SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def wait_semantic(url: str, workers: int, timeout: float = 300) -> str:
    """Wait until the selector's tool embeddings are in (semantic retrieval is on by default;
    until then selection is lexical and a core is busy embedding), in every worker: the
    health answers of 3 x workers calls in a row must all be settled. Returns the status."""
    deadline = time.monotonic() + timeout
    settled, status = 0, "unknown"
    while time.monotonic() < deadline and settled < 3 * workers:
        try:
            status = httpx.get(url, timeout=5).json().get("semantic_retrieval", "unknown")
        except httpx.TimeoutException:  # a busy machine: the embedding thread holds the GIL
            settled = 0
            continue
        settled = settled + 1 if status not in ("waiting", "loading") else 0
        time.sleep(0.05 if settled else 0.5)
    return status


@contextmanager
def toolcatalog_server(
    database_url: str,
    home: Path,
    workers: int,
    logs: Path,
    ready_timeout: float = 120,
    source: Path | None = None,
    **settings: str,
) -> Iterator[Target]:
    """`toolcatalog serve` with default settings (access log on) unless `settings` say
    otherwise (`access_log="false"` -> TOOLCATALOG_ACCESS_LOG=false). `source`: another
    checkout's `src` folder to run instead of the installed package (a baseline), with the
    same interpreter and dependencies."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLCATALOG_")} | {
        "DATABASE_URL": database_url,
        "TOOLCATALOG_HOME": str(home),
        "TOOLCATALOG_CATALOG_DIR": str(ROOT / "catalog"),
        "TOOLCATALOG_PORT": str(port),
        "TOOLCATALOG_WORKERS": str(workers),
    }
    env |= {f"TOOLCATALOG_{k.upper()}": v for k, v in settings.items()}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    exe = shutil.which("toolcatalog", path=str(Path(sys.executable).parent)) or "toolcatalog"
    log = logs / f"toolcatalog-{workers}w-{port}.log"
    with process([exe, "serve"], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/api/v1/tools/health", proc, log, ready_timeout)
        # As long as the start may take: a start that gave up waiting here was measured as
        # served while still embedding, and stopped before its embeddings were all in.
        status = wait_semantic(base + "/api/v1/tools/health", workers, max(300, ready_timeout))
        yield Target(base, proc.pid, status, log)


@contextmanager
def bare_server(
    body_file: Path, workers: int, logs: Path, bodies: Path | None = None
) -> Iterator[Target]:
    port = free_port()
    log = logs / f"bare-{workers}w-{port}.log"
    cmd = [sys.executable, str(BENCH / "bare_app.py"), str(body_file), "--port", str(port)]
    if bodies is not None:
        cmd += ["--bodies", str(bodies)]
    with process([*cmd, "--workers", str(workers)], dict(os.environ), log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/api/v1/tools/x", proc, log)
        yield Target(base, proc.pid)


@contextmanager
def embedded_database(folder: Path) -> Iterator[str]:
    from toolcatalog.store.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(folder / "pgdata", cleanup="delete")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def create_api_key(
    database_url: str, name: str, role: str = "editor", source: Path | None = None
) -> str:
    """A key (editor by default) made directly in the database, for the writes of the mix.
    `source`: another checkout's `src` folder whose server uses this database: the key is
    made by that code (a process of its own), since opening our runtime would migrate the
    database to our schema under the other server (a baseline's writes then failed)."""
    if source is not None:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from servers import create_api_key; "
            "print(create_api_key(*sys.argv[2:]))"
        )
        env = dict(os.environ) | {"PYTHONPATH": str(source)}
        done = subprocess.run(
            [sys.executable, "-c", code, str(BENCH), database_url, name, role],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip().splitlines()[-1]

    from toolcatalog.catalog.keys import Role
    from toolcatalog.config import Settings
    from toolcatalog.runtime import open_runtime

    async def create() -> str:
        settings = Settings(database_url=database_url, import_on_start=False)
        async with open_runtime(settings, listen=False) as runtime:
            created = await runtime.keys.create(name, Role(role))
        return created.secret

    return asyncio.run(create())


# ---------------------------------------------------------------------------------- CPU


def _machine_busy_s() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by `pid` and its children."""
    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def _client_s() -> float:
    # wrk runs as our (waited-for) child; the asyncio client runs in this process.
    children = os.times()
    return children.children_user + children.children_system + children.user + children.system


@dataclass(frozen=True, slots=True)
class CpuShare:
    """Shares of the whole machine (all cores) during one run, in percent."""

    server: float
    client: float
    other: float


@contextmanager
def cpu_watch(target: Target) -> Iterator[list[CpuShare]]:
    out: list[CpuShare] = []
    start = (time.monotonic(), _machine_busy_s(), tree_cpu_s(target.pid), _client_s())
    yield out
    end = (time.monotonic(), _machine_busy_s(), tree_cpu_s(target.pid), _client_s())
    capacity = (end[0] - start[0]) * (os.cpu_count() or 1)
    server, client = end[2] - start[2], end[3] - start[3]
    other = max(0.0, (end[1] - start[1]) - server - client)
    out.append(CpuShare(*(round(100 * x / capacity, 1) for x in (server, client, other))))
