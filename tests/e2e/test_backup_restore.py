"""Backup and restore as an operator runs them: `toolcatalog backup` while a real `serve`
takes writes, `toolcatalog restore` into a fresh database, and a `serve` on the restored
database that answers as the original did for everything the snapshot holds."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_processes import PATIENCE_S, TOOLCATALOG, Servers, admin_key, eventually

from builders import make_settings, tool_doc


def _cli(args: list[str], url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLCATALOG_", "DATABASE"))}
    env |= {"DATABASE_URL": url, "TOOLCATALOG_HOME": str(home), "TOOLCATALOG_SEMANTIC": "false"}
    return subprocess.run(
        [TOOLCATALOG, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE_S * 3,
        check=False,
    )


class Writer(threading.Thread):
    """Creates tools w_0000, w_0001, ... one after the other until stopped."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.base, self.key = base, key
        self.written: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=PATIENCE_S) as client:
                while not self.stop.is_set():
                    name = f"w_{len(self.written):04d}"
                    response = client.post(
                        "/api/v1/tools",
                        json=tool_doc(name),
                        headers={"Authorization": f"Bearer {self.key}"},
                    )
                    assert response.status_code == 201, response.text
                    self.written.append(name)
        except BaseException as exc:  # reported by the test thread
            self.error = exc


def _read(base: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=PATIENCE_S) as client:
        listing = client.get("/api/v1/tools", params={"limit": 500}).json()
        names = sorted(t["name"] for t in listing["items"])
        tools = {}
        for name in names:
            one = client.get(f"/api/v1/tools/{name}")
            versions = client.get(f"/api/v1/tools/{name}/versions").json()
            tools[name] = (one.json(), one.headers["etag"], versions)
        audit = client.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    return {"names": names, "tools": tools, "audit": audit}


@pytest.fixture
async def key(fresh_db_url: str, tmp_path: Path) -> str:
    return await admin_key(make_settings(fresh_db_url, tmp_path), fresh_db_url)


def test_a_backup_taken_during_writes_restores_to_a_fresh_database_that_answers_alike(
    servers: Servers, fresh_db_url: str, empty_db_url: str, tmp_path: Path, key: str
) -> None:
    source = servers.start({"DATABASE_URL": fresh_db_url})
    writer = Writer(source.url, key)
    writer.start()
    try:
        eventually(lambda: len(writer.written) >= 3 or writer.error is not None, "first writes")
        archive = tmp_path / "during-writes.zip"
        backup = _cli(["backup", str(archive)], fresh_db_url, tmp_path)
        assert backup.returncode == 0, backup.stderr
        at_backup = len(writer.written)
        eventually(
            lambda: len(writer.written) >= at_backup + 3 or writer.error is not None,
            "writes after the backup",
        )
    finally:
        writer.stop.set()
        writer.join(PATIENCE_S)
    assert writer.error is None, writer.error

    restore = _cli(["restore", str(archive)], empty_db_url, tmp_path)
    assert restore.returncode == 0, restore.stderr
    assert "restored" in restore.stdout
    restored = servers.start({"DATABASE_URL": empty_db_url})

    before, after = _read(source.url), _read(restored.url)
    # One snapshot: the restored tools are exactly the first k written, for some k.
    k = len(after["names"])
    assert 1 <= k < len(writer.written)
    assert after["names"] == writer.written[:k]
    # ... each answering as the source does (body, ETag, history) ...
    assert after["tools"] == {name: before["tools"][name] for name in after["names"]}
    # ... with the audit log as it stood then (the source's, past the snapshot left out).
    last = max(entry["id"] for entry in after["audit"])
    assert after["audit"] == [e for e in before["audit"] if e["id"] <= last]

    # The keys came back as hashes and still open the door.
    created = httpx.post(
        restored.url + "/api/v1/tools",
        json=tool_doc("after_restore"),
        headers={"Authorization": f"Bearer {key}"},
        timeout=PATIENCE_S,
    )
    assert created.status_code == 201, created.text

    # A second restore onto it is refused, saying how to go on.
    again = _cli(["restore", str(archive)], empty_db_url, tmp_path)
    assert again.returncode == 1
    assert "already holds data" in again.stderr
    assert "--replace" in again.stderr
