"""Backup and restore on real databases: everything comes back (versions, audit, keys), an
older schema is migrated, a newer one, a damaged archive and a target holding data are
refused, and a refused restore changes nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from builders import make_settings, make_tool
from toolcatalog.catalog.backup import restore_backup, write_backup
from toolcatalog.catalog.keys import PREFIX_LENGTH, Role, hash_secret
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import Conflict
from toolcatalog.formats.backup_archive import InvalidBackup
from toolcatalog.model.listing import ToolFilter
from toolcatalog.runtime import open_runtime
from toolcatalog.store.database import Database
from toolcatalog.store.migrate import apply_pending, available_migrations, migration_lock

OLD_SECRET = "tck_" + "o" * 40


async def _everything(url: str, home: Path) -> dict[str, Any]:
    """What a client can read back: tools, each tool's versions, the audit log, the keys."""
    async with open_runtime(make_settings(url, home), listen=False) as runtime:
        page = await runtime.catalog.list_tools(ToolFilter(), limit=500)
        tools = {t.tool.name: (t.body, t.etag, t.revision) for t in page.items}
        versions = {
            name: [
                (v.revision, v.definition, v.action) for v in await runtime.catalog.versions(name)
            ]
            for name in tools
        }
        audit = [
            (a.id, a.occurred_at, a.action, a.tool_name, a.actor, a.diff)
            for a in await runtime.catalog.audit(limit=500)
        ]
        keys = [(k.name, k.role, k.revoked_at) for k in await runtime.keys.list_keys()]
    return {"tools": tools, "versions": versions, "audit": audit, "keys": keys}


async def _seed(url: str, home: Path) -> str:
    """Two tools (one with a second revision), a deleted tool's trail, an editor key."""
    async with open_runtime(make_settings(url, home), listen=False) as runtime:
        actor = Actor("tester")
        await runtime.catalog.create_tool(make_tool("first_tool"), actor=actor)
        await runtime.catalog.create_tool(make_tool("second_tool"), actor=actor)
        await runtime.catalog.replace_tool(
            "second_tool", make_tool("second_tool", version="1.1.0"), actor=actor
        )
        await runtime.catalog.create_tool(make_tool("gone_tool"), actor=actor)
        await runtime.catalog.delete_tool("gone_tool", actor=actor)
        created = await runtime.keys.create("ci_bot", Role.editor)
    return created.secret


async def _seeded_backup(url: str, home: Path) -> tuple[Path, str]:
    secret = await _seed(url, home)
    archive = home / "catalog.zip"
    await _backup(url, home, archive)
    return archive, secret


async def _backup(url: str, home: Path, path: Path) -> None:
    db = Database(make_settings(url, home))
    await db.open()
    try:
        await write_backup(db, path, release="test")
    finally:
        await db.close()


async def _restore(url: str, home: Path, path: Path, *, replace: bool = False) -> Any:
    db = Database(make_settings(url, home))
    await db.open()
    try:
        return await restore_backup(db, path, replace=replace, wait_s=30)
    finally:
        await db.close()


async def test_a_backup_restored_into_an_empty_database_answers_alike_and_its_keys_work(
    fresh_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    archive, secret = await _seeded_backup(fresh_db_url, tmp_path)

    report = await _restore(empty_db_url, tmp_path, archive)

    assert report.rows["tool_api_keys"] == 1
    before = await _everything(fresh_db_url, tmp_path)
    after = await _everything(empty_db_url, tmp_path)
    assert after == before
    assert ("delete", "gone_tool", "tester") in [a[2:5] for a in after["audit"]]
    async with open_runtime(make_settings(empty_db_url, tmp_path), listen=False) as runtime:
        key = await runtime.keys.authenticate(secret)
        assert (key.name, key.role) == ("ci_bot", Role.editor)
        # The sequences moved past the restored ids: new rows do not collide.
        await runtime.catalog.create_tool(make_tool("third_tool"))
        await runtime.keys.create("another_bot", Role.reader)


async def test_restore_refuses_a_target_that_holds_data_and_replace_drops_it(
    fresh_db_url: str, second_fresh_db_url: str, tmp_path: Path
) -> None:
    archive, _ = await _seeded_backup(fresh_db_url, tmp_path)
    async with open_runtime(make_settings(second_fresh_db_url, tmp_path), listen=False) as rt:
        await rt.catalog.create_tool(make_tool("precious_tool"))

    with pytest.raises(Conflict, match=r"already holds data \(.*tools: 1 row.*--replace"):
        await _restore(second_fresh_db_url, tmp_path, archive)
    assert set((await _everything(second_fresh_db_url, tmp_path))["tools"]) == {"precious_tool"}

    report = await _restore(second_fresh_db_url, tmp_path, archive, replace=True)
    assert report.replaced["tools"] == 1
    restored = await _everything(second_fresh_db_url, tmp_path)
    assert restored == await _everything(fresh_db_url, tmp_path)


async def test_a_freshly_migrated_database_counts_as_empty(
    fresh_db_url: str, second_fresh_db_url: str, tmp_path: Path
) -> None:
    archive, _ = await _seeded_backup(fresh_db_url, tmp_path)
    report = await _restore(second_fresh_db_url, tmp_path, archive)
    assert report.replaced == {}


async def test_a_backup_from_an_older_schema_restores_and_is_migrated(
    empty_db_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    oldest = available_migrations()[0]
    conn = await asyncpg.connect(empty_db_url)
    try:
        async with migration_lock(conn, wait_s=10):
            await apply_pending(conn, up_to=oldest.version)
        await conn.execute(
            "INSERT INTO tool_catalog.tool_api_keys (name, role, key_hash, key_prefix)"
            " VALUES ('old_bot', 'editor', $1, $2)",
            hash_secret(OLD_SECRET),
            OLD_SECRET[:PREFIX_LENGTH],
        )
    finally:
        await conn.close()
    archive = tmp_path / "old.zip"
    await _backup(empty_db_url, tmp_path, archive)
    with zipfile.ZipFile(archive) as zf:
        assert orjson.loads(zf.read("manifest.json"))["schema_version"] == oldest.version

    report = await _restore(fresh_db_url, tmp_path, archive)
    assert report.backup_schema_version == oldest.version
    assert report.schema_version == len(available_migrations())
    async with open_runtime(make_settings(fresh_db_url, tmp_path), listen=False) as runtime:
        key = await runtime.keys.authenticate(OLD_SECRET)
        assert key.name == "old_bot"


def _rewrite_manifest(archive: Path, change: Any) -> Path:
    changed = archive.with_name("changed-" + archive.name)
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(changed, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "manifest.json":
                doc = orjson.loads(data)
                change(doc)
                data = orjson.dumps(doc)
            dst.writestr(item, data)
    return changed


async def test_a_backup_from_a_newer_schema_is_refused_naming_the_release_to_use(
    fresh_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "catalog.zip"
    await _backup(fresh_db_url, tmp_path, archive)

    def newer(doc: dict[str, Any]) -> None:
        doc["migrations"].append({"version": 9999, "name": "future", "checksum": "x"})
        doc["toolcatalog_version"] = "99.0.0"

    with pytest.raises(InvalidBackup, match=r"newer schema \(migration 9999_future.*99\.0\.0"):
        await _restore(empty_db_url, tmp_path, _rewrite_manifest(archive, newer))
    assert await _has_schema(empty_db_url) is False


async def test_a_damaged_archive_is_refused_and_the_target_is_left_as_it_was(
    fresh_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    archive, _ = await _seeded_backup(fresh_db_url, tmp_path)

    def fewer_rows(doc: dict[str, Any]) -> None:
        next(t for t in doc["tables"] if t["name"] == "tools")["rows"] = 1

    with pytest.raises(InvalidBackup, match=r"damaged: tables/tools\.copy holds 3 rows"):
        await _restore(empty_db_url, tmp_path, _rewrite_manifest(archive, fewer_rows))
    assert await _has_schema(empty_db_url) is False

    flipped = tmp_path / "flipped.zip"
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("tables/tool_versions.copy")
    # Inside the member's compressed bytes (past its local header of 30 bytes + name + extra).
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(InvalidBackup, match=r"is damaged \(tables/tool_versions\.copy"):
        await _restore(empty_db_url, tmp_path, flipped)
    assert await _has_schema(empty_db_url) is False

    not_a_zip = tmp_path / "garbage.zip"
    not_a_zip.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidBackup, match="not a readable backup archive"):
        await _restore(empty_db_url, tmp_path, not_a_zip)


async def test_tables_added_outside_the_migrations_are_backed_up_and_refused_on_restore(
    fresh_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(fresh_db_url)
    try:
        await conn.execute("CREATE TABLE tool_catalog.tool_extra (n int)")
        await conn.execute("INSERT INTO tool_catalog.tool_extra VALUES (1), (2)")
    finally:
        await conn.close()
    archive = tmp_path / "catalog.zip"
    await _backup(fresh_db_url, tmp_path, archive)
    with zipfile.ZipFile(archive) as zf:
        tables = {t["name"]: t["rows"] for t in orjson.loads(zf.read("manifest.json"))["tables"]}
    assert tables["tool_extra"] == 2

    with pytest.raises(InvalidBackup, match="has tool_extra, which schema version"):
        await _restore(empty_db_url, tmp_path, archive)


async def test_a_backup_that_fails_leaves_no_file(empty_db_url: str, tmp_path: Path) -> None:
    archive = tmp_path / "catalog.zip"
    with pytest.raises(InvalidBackup, match="nothing to back up"):
        await _backup(empty_db_url, tmp_path, archive)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("catalog.zip")) == []  # noqa: ASYNC240 - a test's own folder


async def _has_schema(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT to_regnamespace('tool_catalog') IS NOT NULL"))
    finally:
        await conn.close()
