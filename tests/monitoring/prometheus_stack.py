"""Real processes for the Prometheus end-to-end test: `toolcatalog serve`, a Prometheus scraping
it, and a socket proxy between the service and PostgreSQL that can cut the connection like a
network partition (the test server is shared by the whole run, so it is never stopped).
Every wait is bounded; every process is stopped, its whole process group, even on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import yaml

TOOLCATALOG = str(Path(sys.executable).with_name("toolcatalog"))
# Liveness bound of every wait; how fast things happen is not asserted.
PATIENCE_S = 30.0


class Timeout(AssertionError):
    pass


def report_line(config: pytest.Config, text: str) -> None:
    """Print a figure on the terminal even while pytest captures output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


def wait_for(condition: Callable[[], Any], what: str, patience_s: float = PATIENCE_S) -> Any:
    """Poll `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + patience_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise Timeout(f"still waiting after {patience_s:.0f} s for: {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ processes


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} log ({self.log}) ---\n{text[-chars:]}"

    def running(self) -> bool:
        """True, or raises with the log if the process has exited."""
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")
        return True

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, wait, then SIGKILL the whole process group."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # children left behind
        self.proc.wait()


def start(name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name, proc, log)


def serve_env(database_url: str, home: Path, port: int, **extra: str) -> dict[str, str]:
    inherited = ("TOOLCATALOG_", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return (
        env
        | {
            "DATABASE_URL": database_url,
            "TOOLCATALOG_HOME": str(home),
            "TOOLCATALOG_PORT": str(port),
            "TOOLCATALOG_POOL_MIN_SIZE": "1",
            "TOOLCATALOG_POOL_MAX_SIZE": "4",
            "TOOLCATALOG_ACCESS_LOG": "false",
        }
        | extra
    )


# ------------------------------------------------------------------ the database proxy


class SocketProxy:
    """Forwards connections to PostgreSQL (unix socket or TCP). `cut()` drops every
    connection and refuses new ones, as a partition would; `restore()` lets them through."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        query = parse_qs(parts.query)
        socket_dir = query.get("host", [parts.hostname or ""])[0]
        port = int(query.get("port", [parts.port or 5432])[0])
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        if socket_dir.startswith("/"):
            self._family = socket.AF_UNIX
            self._upstream: Any = f"{socket_dir}/.s.PGSQL.{port}"
            # Unix socket paths are limited to 107 bytes: a short folder, not tmp_path.
            self._dir = Path(tempfile.mkdtemp(prefix="tcpx-"))
            self._address: Any = str(self._dir / f".s.PGSQL.{port}")
            query["host"] = [str(self._dir)]
            self.url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        else:
            self._family = socket.AF_INET
            self._upstream = (socket_dir, port)
            self._address = ("127.0.0.1", free_port())
            netloc = parts.netloc.rsplit("@", 1)
            host = f"127.0.0.1:{self._address[1]}"
            self.url = urlunsplit(
                parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
            )

    def restore(self) -> None:
        listener = socket.socket(self._family, socket.SOCK_STREAM)
        if self._family == socket.AF_INET:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self._address)
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    start = restore

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, []
        if listener is not None:
            listener.close()
            if self._family == socket.AF_UNIX:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._address)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        self.cut()
        if self._family == socket.AF_UNIX:
            with contextlib.suppress(OSError):
                self._dir.rmdir()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.socket(self._family, socket.SOCK_STREAM)
                upstream.connect(self._upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------ Prometheus


def write_prometheus_config(folder: Path, rules: Path, target: str, *, for_s: int) -> Path:
    """A configuration scraping `target` every second with a copy of `rules` whose alerts
    wait `for_s` seconds instead of minutes."""
    data = yaml.safe_load(rules.read_text())
    for group in data["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = f"{for_s}s"
    (folder / "rules.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [{"job_name": "toolcatalog", "static_configs": [{"targets": [target]}]}],
    }
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_argv(binary: str, config: Path, data: Path, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
    ]


class PrometheusAPI:
    """The few calls of Prometheus' HTTP API the test makes; errors raise with the reason."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)

    def close(self) -> None:
        self.client.close()

    def ready(self) -> bool:
        try:
            return self.client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", **params)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def label_values(self, label: str, match: str | None, at: float) -> list[str]:
        params: dict[str, Any] = {"start": f"{at - 60:.3f}", "end": f"{at:.3f}"}
        if match:
            params["match[]"] = match
        values: list[str] = self._get(f"/api/v1/label/{label}/values", **params)
        return values

    def target_health(self) -> str | None:
        targets = self._get("/api/v1/targets")["activeTargets"]
        return targets[0]["health"] if targets else None

    def firing(self) -> set[str]:
        alerts = self._get("/api/v1/alerts")["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    def alert_labels(self, name: str) -> list[dict[str, str]]:
        alerts = self._get("/api/v1/alerts")["alerts"]
        return [a["labels"] for a in alerts if a["labels"]["alertname"] == name]

    def rule_health(self) -> dict[str, str]:
        """rule name -> health (ok, err, unknown) and last error if any."""
        out = {}
        for group in self._get("/api/v1/rules")["groups"]:
            for rule in group["rules"]:
                error = rule.get("lastError")
                out[rule["name"]] = rule["health"] + (f": {error}" if error else "")
        return out
