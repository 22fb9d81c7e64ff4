"""Day two as real processes: replicas started together on a fresh database, and a parent
killed by SIGKILL whose workers go with it so that the next start succeeds."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx
import psutil
from e2e_processes import Servers, eventually, free_port, wait_healthy

CATALOG = Path(__file__).resolve().parents[2] / "catalog"


def test_three_replicas_started_together_on_a_fresh_database_all_come_up_healthy(
    servers: Servers, empty_db_url: str
) -> None:
    env = {
        "DATABASE_URL": empty_db_url,
        "TOOLCATALOG_IMPORT_ON_START": "true",
        "TOOLCATALOG_CATALOG_DIR": str(CATALOG),
    }
    started = [servers.start(env, wait=False) for _ in range(3)]
    for server in started:
        wait_healthy(server)
    # Each banner says how many tools it found: the same catalog, imported once.
    counts = {int(m[1]) for s in started if (m := re.search(r"; (\d+) tools", s.logs()))}
    assert len(counts) == 1, [s.logs()[-2000:] for s in started]
    assert counts.pop() > 0
    keys = [re.findall(r"admin API key \(shown once\)", s.logs()) for s in started]
    assert sum(len(k) for k in keys) == 1, [s.logs()[-2000:] for s in started]


def test_sigkill_of_the_parent_takes_its_workers_and_the_next_start_succeeds(
    servers: Servers,
) -> None:
    port = free_port()
    first = servers.start({}, workers=2, port=port)
    parent = psutil.Process(first.proc.pid)
    workers = [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) >= 2, [p.cmdline() for p in workers]
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()

    def workers_gone() -> bool:
        return not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)

    eventually(workers_gone, "the workers to exit after their parent was killed")
    again = servers.start({}, workers=2, port=port)
    assert httpx.get(again.url + "/api/v1/tools/health", timeout=10).status_code == 200
