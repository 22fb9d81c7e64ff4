"""Backup and restore of everything the service keeps: every table of the tool_catalog
schema (tools, versions, audit log, vocabulary, environments, API key hashes, telemetry,
experiments, whatever later migrations add), as one archive (formats/backup_archive.py).

A backup reads one REPEATABLE READ snapshot, so it is consistent while the service writes.
A restore is one transaction under the migration lock: it recreates the schema at the
backup's migration, loads the rows, sets the sequences, then applies this release's later
migrations, so an older backup comes back migrated and a failure leaves the target as it
was. It refuses a target that holds data unless asked to replace it, and a backup from a
newer schema.
"""

from __future__ import annotations

import asyncio
import logging
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolcatalog.catalog.changes import ChangeNotice, notify_change
from toolcatalog.errors import Conflict
from toolcatalog.formats import backup_archive as archive
from toolcatalog.formats.backup_archive import InvalidBackup, Manifest, TableEntry
from toolcatalog.store import backup as tables
from toolcatalog.store import changes as change_store
from toolcatalog.store.database import Database
from toolcatalog.store.migrate import apply_pending, available_migrations, migration_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    schema_version: int
    rows: dict[str, int]  # per table


@dataclass(frozen=True, slots=True)
class RestoreReport:
    path: Path
    backup_schema_version: int
    schema_version: int
    rows: dict[str, int]
    replaced: dict[str, int]  # what the target held before (only with replace)
    created_at: str


async def write_backup(db: Database, path: Path, *, release: str) -> BackupReport:
    """Write every table of the schema to `path`, as of one snapshot."""
    with archive.writing(path) as writer:
        async with db.snapshot_read("backup") as conn:
            if not await tables.schema_exists(conn):
                raise InvalidBackup(
                    f"nothing to back up: {db.display_url} has no toolcatalog schema"
                )
            manifest = Manifest(
                toolcatalog_version=release,
                created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                migrations=await tables.fetch_applied_migrations(conn),
                sequences=await tables.fetch_sequences(conn),
            )
            for table in await tables.fetch_tables(conn):
                member = f"tables/{table.name}.copy"
                with writer.member(member) as out:
                    rows = await tables.copy_table_out(conn, table, out)
                manifest.tables.append(TableEntry(table.name, list(table.columns), rows, member))
        await asyncio.to_thread(writer.commit, manifest)
    log.info("backup written", extra={"path": str(path), "tables": len(manifest.tables)})
    return BackupReport(path, manifest.schema_version, {t.name: t.rows for t in manifest.tables})


def check_schema(manifest: Manifest, where: str) -> None:
    """Refuse a backup this release cannot restore: a schema newer than its migrations, or
    one built by migrations that differ from the ones it ships."""
    shipped = {m.version: m for m in available_migrations()}
    newest = max(shipped, default=0)
    if manifest.schema_version > newest:
        last = manifest.migrations[-1]
        raise InvalidBackup(
            f"{where} comes from a newer schema (migration {last['version']:04d}_"
            f"{last['name']}, toolcatalog {manifest.toolcatalog_version}) than this release "
            f"knows (up to {newest:04d}); restore it with toolcatalog "
            f"{manifest.toolcatalog_version} or later"
        )
    for applied in manifest.migrations:
        mine = shipped.get(applied["version"])
        if mine is None or mine.checksum != applied["checksum"]:
            raise InvalidBackup(
                f"{where} was taken on a schema whose migration {applied['version']:04d}_"
                f"{applied['name']} differs from this release's; restore it with the "
                f"release that took it (toolcatalog {manifest.toolcatalog_version})"
            )


async def _held_data(conn: Any) -> dict[str, int]:
    """Tables of the target that hold rows of their own (not just what migrations seed)."""
    if not await tables.schema_exists(conn):
        return {}
    names = [t.name for t in await tables.fetch_tables(conn) if t.name not in tables.NOT_USER_DATA]
    return {name: n for name, n in (await tables.count_rows(conn, names)).items() if n}


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {n} row{'s' * (n != 1)}" for name, n in counts.items())


async def _load(conn: Any, reader: archive.ArchiveReader) -> dict[str, int]:
    manifest = reader.manifest
    present = {t.name: t for t in await tables.fetch_tables(conn)}
    for entry in manifest.tables:
        table = present.get(entry.name)
        unknown = set(entry.columns) - set(table.columns) if table else set()
        if table is None or unknown:
            what = f"column(s) {sorted(unknown)} of {entry.name}" if table else entry.name
            raise InvalidBackup(
                f"{reader.path} has {what}, which schema version {manifest.schema_version} "
                "of this release does not have; restore it with the release that took it"
            )
    await tables.truncate(conn, [e.name for e in manifest.tables])
    loaded: dict[str, int] = {}
    for entry in manifest.tables:
        try:
            with reader.member(entry.member) as source:
                loaded[entry.name] = await tables.copy_table_in(
                    conn, entry.name, entry.columns, source
                )
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InvalidBackup(f"{reader.path} is damaged ({entry.member}: {exc})") from None
        if loaded[entry.name] != entry.rows:
            raise InvalidBackup(
                f"{reader.path} is damaged: {entry.member} holds {loaded[entry.name]} rows, "
                f"its manifest says {entry.rows}"
            )
    await tables.set_sequences(conn, manifest.sequences)
    return loaded


async def restore_backup(
    db: Database, path: Path, *, replace: bool = False, wait_s: float = 60.0
) -> RestoreReport:
    """Bring back everything in the archive at `path`, in one transaction. Refuses (Conflict)
    when the target holds data, unless `replace`: then that data is dropped first."""
    with archive.reading(path) as reader:
        manifest = reader.manifest
        check_schema(manifest, str(path))
        async with db.connection("restore") as conn:
            # DDL waits for the locks it needs as long as it takes (RESET ALL at release).
            await conn.execute("SET lock_timeout = 0")
            async with migration_lock(conn, wait_s=wait_s), conn.transaction():
                held = await _held_data(conn)
                if held and not replace:
                    raise Conflict(
                        f"{db.display_url} already holds data ({_describe(held)}); restore "
                        "into an empty database or home (a new database in DATABASE_URL, or "
                        "a new TOOLCATALOG_HOME), or pass --replace to drop that data first"
                    )
                # The restored database counts its changes afresh: it starts past the
                # generation replicas saw here, so none takes the restore for older news.
                before = await change_store.fetch_generation_of_any_schema(conn)
                await tables.drop_schema(conn)
                await apply_pending(conn, up_to=manifest.schema_version)
                loaded = await _load(conn, reader)
                later = await apply_pending(conn)
                await change_store.advance_generation(conn, before)
                # Replicas running on the target forget every cached tool and verified key.
                # (Notified inside the transaction: a restore is rare and may run from the
                # CLI, which has no announcer; the notify lock holds no writer up here.)
                published = await change_store.publish_change(conn, "restore", [], everything=True)
                notice = ChangeNotice(
                    "restore", published.generation, everything=True, change=published.id
                )
                await notify_change(conn, notice)
    log.info("backup restored", extra={"path": str(path), "migrated": [m.name for m in later]})
    return RestoreReport(
        path,
        manifest.schema_version,
        max((m.version for m in available_migrations()), default=0),
        loaded,
        held,
        manifest.created_at,
    )
