"""Replicas as real processes: two `toolcatalog serve` on different ports sharing one
database, `--workers 2`, `toolcatalog reload`, and SIGTERM (with the embedded database, the
parent owns the server and stops it)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from e2e_processes import (
    PATIENCE_S,
    TOOLCATALOG,
    Servers,
    admin_key,
    eventually,
)
from prometheus_client.parser import text_string_to_metric_families

from builders import tool_doc
from toolcatalog.config import Settings

TOOL = "/api/v1/tools/alpha_tool"


def description(base: str) -> str:
    # A new connection each time, so that with several workers any of them may answer.
    response = httpx.get(base + TOOL, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["description"])


def put_description(base: str, key: str, text: str) -> None:
    """Replace the description, unconditionally (If-Match: *)."""
    response = httpx.put(
        base + TOOL,
        json=tool_doc("alpha_tool", description=text),
        headers={"Authorization": f"Bearer {key}", "If-Match": "*"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def create_tool(base: str, key: str) -> None:
    response = httpx.post(
        base + "/api/v1/tools",
        json=tool_doc("alpha_tool", description="First."),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


@pytest.fixture
async def key(settings: Settings, fresh_db_url: str) -> str:
    return await admin_key(settings, fresh_db_url)


def test_a_write_through_one_replica_is_seen_through_the_other(
    servers: Servers, fresh_db_url: str, key: str
) -> None:
    a = servers.start({"DATABASE_URL": fresh_db_url})
    b = servers.start({"DATABASE_URL": fresh_db_url})
    create_tool(a.url, key)
    assert description(b.url) == "First."
    assert description(b.url) == "First."  # now served from b's cache

    put_description(a.url, key, "Second.")
    # How fast is measured by bench/propagation.py; here only that it happens.
    eventually(lambda: description(b.url) == "Second.", "b serves the new description")
    assert description(a.url) == "Second."

    metrics = httpx.get(b.url + "/api/v1/tools/metrics", timeout=10).json()
    assert metrics["loading"]["notify_messages"] >= 2  # the create and the update
    assert metrics["cache"]["hits"] >= 1


def test_a_key_revoked_through_one_replica_stops_working_on_the_other_with_the_notice(
    servers: Servers, fresh_db_url: str, key: str
) -> None:
    a = servers.start({"DATABASE_URL": fresh_db_url})
    b = servers.start({"DATABASE_URL": fresh_db_url})
    admin = {"Authorization": f"Bearer {key}"}
    made = httpx.post(
        a.url + "/api/v1/keys",
        json={"name": "leaver", "role": "editor"},
        headers=admin,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    leaver = {"Authorization": f"Bearer {made.json()['key']}"}
    create_tool(a.url, key)
    for _ in range(2):  # b verifies the key, then answers from what it remembers
        assert httpx.get(b.url + TOOL, headers=leaver, timeout=10).status_code == 200

    revoked = httpx.delete(a.url + "/api/v1/keys/leaver", headers=admin, timeout=10)
    assert revoked.status_code == 204, revoked.text
    # A write committed after the revocation: once b shows it, b has heard every notice
    # committed before it (one channel, delivered in commit order), the revocation's too.
    put_description(a.url, key, "After the revocation.")
    eventually(lambda: description(b.url) == "After the revocation.", "b hears of the later write")
    refused = httpx.get(b.url + TOOL, headers=leaver, timeout=10)
    assert refused.status_code == 401, refused.text
    assert "revoked" in refused.json()["detail"]


def test_toolcatalog_reload_empties_every_replica_cache(
    servers: Servers, fresh_db_url: str, key: str, tmp_path: Path
) -> None:
    a = servers.start({"DATABASE_URL": fresh_db_url})
    create_tool(a.url, key)
    description(a.url)

    def cached(base: str) -> int:
        return int(
            httpx.get(base + "/api/v1/tools/metrics", timeout=10).json()["cache"]["current_size"]
        )

    assert cached(a.url) >= 1
    reload = subprocess.run(
        [TOOLCATALOG, "reload"],
        env={"DATABASE_URL": fresh_db_url, "TOOLCATALOG_HOME": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )
    assert reload.returncode == 0, reload.stderr
    eventually(lambda: cached(a.url) == 0, "the replica forgets its cache")
    assert description(a.url) == "First."


def test_workers_stay_coherent_and_share_their_metrics(
    servers: Servers, fresh_db_url: str, key: str
) -> None:
    server = servers.start({"DATABASE_URL": fresh_db_url}, workers=2)
    create_tool(server.url, key)
    for _ in range(40):
        assert description(server.url) == "First."
    put_description(server.url, key, "Second.")

    def all_workers_agree() -> bool:
        return all(description(server.url) == "Second." for _ in range(20))

    eventually(all_workers_agree, "every worker serves the new description")

    # Prometheus values are merged over the workers: every GET above is counted once.
    text = httpx.get(server.url + "/metrics", timeout=10).text
    counted = sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "toolcatalog_http_requests_total"
        and s.labels["route"] == "/api/v1/tools/{name}"
        and s.labels["status"] == "200"
    )
    assert counted >= 60


def test_sigterm_stops_the_workers_and_the_embedded_database(servers: Servers) -> None:
    server = servers.start({}, workers=2)  # no DATABASE_URL: the embedded server
    postmaster = servers.home / "pgdata" / "postmaster.pid"
    assert postmaster.exists()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=PATIENCE_S) == 0, server.logs()[-3000:]
    assert not postmaster.exists(), "the embedded PostgreSQL is still running"
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/api/v1/tools/health", timeout=2)
    messages = [
        json.loads(line).get("msg", "")
        for line in server.logs().splitlines()
        if line.startswith("{")
    ]
    # every worker ran its lifespan shutdown: the listener and the pool were closed
    assert messages.count("Application shutdown complete.") == 2


def test_sigterm_is_a_clean_stop_with_one_worker(servers: Servers, fresh_db_url: str) -> None:
    # Right after start, with a fresh home: the embedding thread is building the encoder.
    server = servers.start({"DATABASE_URL": fresh_db_url})
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {PATIENCE_S} s after SIGTERM:\n{server.logs()[-3000:]}")
    assert code == 0, server.logs()[-3000:]
    assert "Application shutdown complete." in server.logs()
