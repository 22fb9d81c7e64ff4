"""`serve` with its selection process (TOOLCATALOG_SELECT_PROCESS, selection/process.py) as
real processes: selects answered from it, and it never outlives its worker, whether the
worker stops cleanly (SIGTERM) or is killed (SIGKILL: the channel's end, the death signal)."""

from __future__ import annotations

import signal

import httpx
import psutil
from e2e_processes import PATIENCE_S, Server, Servers, eventually

SIDECAR = "toolcatalog.sidecar"


def selection_processes(server: Server) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(server.proc.pid).children(recursive=True)
        if SIDECAR in " ".join(p.cmdline())
    ]


def test_serve_selects_in_its_selection_process_and_sigterm_stops_both(
    servers: Servers, fresh_db_url: str
) -> None:
    server = servers.start({"DATABASE_URL": fresh_db_url, "TOOLCATALOG_SELECT_PROCESS": "on"})
    (child,) = selection_processes(server)
    health = httpx.get(server.url + "/api/v1/tools/health", timeout=10).json()
    assert health["selection_process"] == f"up (pid {child.pid})"
    answer = httpx.post(
        server.url + "/api/v1/select", json={"request": "why is / full on db2"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["selection_id"]

    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=PATIENCE_S) == 0
    _gone, alive = psutil.wait_procs([child], timeout=PATIENCE_S)
    assert not alive, f"selection process {child.pid} outlived its worker"


def test_a_killed_worker_takes_its_selection_process_with_it(
    servers: Servers, fresh_db_url: str
) -> None:
    server = servers.start({"DATABASE_URL": fresh_db_url, "TOOLCATALOG_SELECT_PROCESS": "on"})
    (child,) = selection_processes(server)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=PATIENCE_S)
    eventually(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE,
               f"selection process {child.pid} ends after its worker was killed")  # fmt: skip


def test_off_keeps_selection_in_the_worker(servers: Servers, fresh_db_url: str) -> None:
    server = servers.start({"DATABASE_URL": fresh_db_url, "TOOLCATALOG_SELECT_PROCESS": "off"})
    assert selection_processes(server) == []
    health = httpx.get(server.url + "/api/v1/tools/health", timeout=10).json()
    assert health["selection_process"] == "off"
