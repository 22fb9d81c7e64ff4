"""`toolcatalog keys` as a user (or a script) runs it: real processes, real database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from builders import make_settings
from toolcatalog.catalog.keys import Role
from toolcatalog.runtime import open_runtime


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TOOLCATALOG_STARTUP_RETRY_S": "0"}
    return subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _authenticate(url: str, home: Path, secret: str) -> tuple[str, Role]:
    async def go() -> tuple[str, Role]:
        async with open_runtime(make_settings(url, home), listen=False) as runtime:
            key = await runtime.keys.authenticate(secret)
            return key.name, key.role

    return asyncio.run(go())


def test_create_prints_only_the_key_on_stdout_and_it_works(
    fresh_db_url: str, tmp_path: Path
) -> None:
    created = run(fresh_db_url, "create", "--role", "editor", "--name", "ci-bot")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert created.stdout == secret + "\n"
    assert secret.startswith("tck_")
    assert "shown only this once" in created.stderr
    assert secret not in created.stderr
    assert _authenticate(fresh_db_url, tmp_path, secret) == ("ci-bot", Role.editor)


def test_list_shows_keys_but_never_secrets_and_revoke_disables(
    fresh_db_url: str, tmp_path: Path
) -> None:
    secret = run(fresh_db_url, "create", "--name", "reader-1").stdout.strip()
    listed = run(fresh_db_url, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [key] = json.loads(listed.stdout)
    assert (key["name"], key["role"], key["revoked_at"]) == ("reader-1", "reader", None)
    assert key["prefix"] == secret[:12]
    assert secret not in listed.stdout
    table = run(fresh_db_url, "list")
    assert "reader-1" in table.stdout

    revoked = run(fresh_db_url, "revoke", "reader-1")
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked key 'reader-1'" in revoked.stdout
    [key] = json.loads(run(fresh_db_url, "list", "--json").stdout)
    assert key["revoked_at"] is not None


def test_mistakes_exit_1_with_one_line_and_usage_errors_exit_2(fresh_db_url: str) -> None:
    assert run(fresh_db_url, "create", "--name", "twice").returncode == 0
    again = run(fresh_db_url, "create", "--name", "twice")
    assert (again.returncode, again.stdout) == (1, "")
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    unknown = run(fresh_db_url, "revoke", "nobody")
    assert unknown.returncode == 1
    assert "does not exist" in unknown.stderr
    bad_name = run(fresh_db_url, "create", "--name", "no spaces")
    assert bad_name.returncode == 1
    bad_role = run(fresh_db_url, "create", "--name", "x", "--role", "root")
    assert bad_role.returncode == 2
