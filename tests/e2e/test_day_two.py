"""Day two as real processes: replicas started together on a fresh database, and a parent
killed by SIGKILL whose workers go with it so that the next start succeeds."""

from __future__ import annotations

import os
import re
import secrets
import signal
import stat
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


def test_the_first_admin_key_goes_to_a_private_file_not_to_stdout(
    servers: Servers, fresh_db_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets" / "admin-key"
    server = servers.start(
        {"DATABASE_URL": fresh_db_url, "TOOLCATALOG_ADMIN_KEY_FILE": str(key_file)}
    )
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip()
    assert secret not in server.logs()
    assert f"admin API key written to {key_file}" in server.logs()
    keys = httpx.get(
        server.url + "/api/v1/keys", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert keys.status_code == 200, keys.text


def test_the_operator_can_give_the_first_admin_key_and_only_its_hash_is_stored(
    servers: Servers, fresh_db_url: str
) -> None:
    secret = "tck_" + secrets.token_urlsafe(32)
    server = servers.start({"DATABASE_URL": fresh_db_url, "TOOLCATALOG_ADMIN_KEY": secret})
    assert secret not in server.logs()
    keys = httpx.get(
        server.url + "/api/v1/keys", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert keys.status_code == 200, keys.text
    assert [k["name"] for k in keys.json()["keys"]] == ["admin"]
