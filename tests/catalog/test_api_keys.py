"""ApiKeyService against the real database: hashes only, roles, revocation, audit, and the
first-start admin key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from builders import make_settings
from toolcatalog.catalog.keys import (
    ApiKeyService,
    Role,
    ensure_initial_admin_key,
    hash_secret,
)
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.errors import Conflict, InvalidDefinition, NotFound, Unauthorized
from toolcatalog.runtime import open_runtime
from toolcatalog.store.database import Database


def test_roles_are_ordered() -> None:
    assert Role.admin.allows(Role.editor)
    assert Role.editor.allows(Role.reader)
    assert Role.editor.allows(Role.editor)
    assert not Role.reader.allows(Role.editor)
    assert not Role.editor.allows(Role.admin)


def test_a_reporter_may_post_telemetry_and_nothing_else() -> None:
    assert Role.reporter.allows(Role.reporter)
    assert not any(Role.reporter.allows(r) for r in (Role.reader, Role.editor, Role.admin))
    assert Role.editor.allows(Role.reporter)
    assert Role.admin.allows(Role.reporter)
    assert not Role.reader.allows(Role.reporter)


async def test_only_the_hash_is_stored_and_the_secret_authenticates(
    db: Database, conn: Any
) -> None:
    keys = ApiKeyService(db)
    created = await keys.create("ci-bot", Role.editor)
    stored = await conn.fetchrow(
        "SELECT key_hash, key_prefix FROM tool_api_keys WHERE name = 'ci-bot'"
    )
    assert bytes(stored["key_hash"]) == hash_secret(created.secret)
    assert created.secret not in str(dict(stored))
    key = await keys.authenticate(created.secret)
    assert (key.name, key.role, key.prefix) == ("ci-bot", Role.editor, created.secret[:12])


async def test_wrong_and_revoked_keys_are_unauthorized(db: Database) -> None:
    keys = ApiKeyService(db)
    created = await keys.create("ci-bot", Role.editor)
    # The key with its last character changed (to one it is not: a fixed "A" matched 1 in 62).
    last = "B" if created.secret.endswith("A") else "A"
    altered = created.secret[:-1] + last
    for wrong in ("", "nope", created.secret + "x", altered, "tck_" + "x" * 300):
        with pytest.raises(Unauthorized):
            await keys.authenticate(wrong)
    await keys.revoke("ci-bot")
    with pytest.raises(Unauthorized):
        await keys.authenticate(created.secret)
    with pytest.raises(NotFound, match="already revoked"):
        await keys.revoke("ci-bot")


async def test_names_are_unique_and_well_formed(db: Database) -> None:
    keys = ApiKeyService(db)
    await keys.create("ci-bot", Role.reader)
    with pytest.raises(Conflict):
        await keys.create("ci-bot", Role.admin)
    with pytest.raises(InvalidDefinition) as err:
        await keys.create("has space", Role.reader)
    assert err.value.problems[0].path == "name"


async def test_key_changes_are_audited(db: Database, service: ToolCatalogService) -> None:
    keys = ApiKeyService(db)
    actor = Actor("root", request_id="r-1", client_address="10.0.0.9")
    created = await keys.create("ci-bot", Role.editor, actor=actor)
    await keys.revoke("ci-bot", actor=actor)
    entries = await service.audit(actor="root")
    assert [(e.action, e.tool_name, e.request_id) for e in entries] == [
        ("key_revoke", None, "r-1"),
        ("key_create", None, "r-1"),
    ]
    assert entries[1].diff == [
        {"op": "add", "path": "api_keys[ci-bot]",
         "to": {"name": "ci-bot", "role": "editor", "prefix": created.secret[:12]}}
    ]  # fmt: skip


async def test_last_use_is_recorded(db: Database) -> None:
    keys = ApiKeyService(db)
    created = await keys.create("ci-bot", Role.reader)
    await keys.authenticate(created.secret)
    [listed] = await keys.list_keys()
    assert listed.last_used_at is not None


async def test_the_initial_admin_key_is_made_once_even_when_replicas_race(
    fresh_db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fresh_db_url, tmp_path, pool_max_size=5)
    async with (
        open_runtime(settings, listen=False) as first,
        open_runtime(settings, listen=False) as second,
    ):
        secrets = await asyncio.gather(
            ensure_initial_admin_key(first.keys), ensure_initial_admin_key(second.keys)
        )
        made = [s for s in secrets if s is not None]
        assert len(made) == 1
        key = await first.keys.authenticate(made[0])
        assert (key.name, key.role) == ("admin", Role.admin)
        assert await ensure_initial_admin_key(first.keys) is None
        await first.keys.revoke("admin")
        assert await ensure_initial_admin_key(second.keys) is None  # never again, even if revoked
