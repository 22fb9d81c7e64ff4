"""The backup archive: one zip file with `manifest.json` (format, release, schema migrations,
tables with their columns and row counts, sequences) and one member per table holding its
rows in PostgreSQL's COPY text format, deflated.

Zip because members are written as a stream (a table's size is not known before its COPY
ends, which tar needs up front), read back one at a time without unpacking, and checked by
CRC: a damaged archive fails while it is read, inside the restore's transaction, so nothing
is half-restored. The archive is written beside its final name and renamed when complete:
a backup that fails leaves no file that looks like a backup.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from toolcatalog.errors import CatalogError

FORMAT = "toolcatalog-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class InvalidBackup(CatalogError):
    code = "invalid_backup"
    title = "Invalid backup"


@dataclass(frozen=True, slots=True)
class TableEntry:
    name: str
    columns: list[str]
    rows: int
    member: str


@dataclass(slots=True)
class Manifest:
    toolcatalog_version: str
    created_at: str
    # [{"version": 1, "name": "initial", "checksum": "..."}], as applied in the source.
    migrations: list[dict[str, Any]]
    tables: list[TableEntry] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)

    @property
    def schema_version(self) -> int:
        return max((int(m["version"]) for m in self.migrations), default=0)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "toolcatalog_version": self.toolcatalog_version,
                "created_at": self.created_at,
                "schema_version": self.schema_version,
                "migrations": self.migrations,
                "tables": [
                    {"name": t.name, "columns": t.columns, "rows": t.rows, "member": t.member}
                    for t in self.tables
                ],
                "sequences": self.sequences,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            doc = orjson.loads(data)
            if doc.get("format") != FORMAT:
                raise InvalidBackup(f"{where} is not a toolcatalog backup (no {FORMAT} manifest)")
            if int(doc["format_version"]) > FORMAT_VERSION:
                raise InvalidBackup(
                    f"{where} has backup format {doc['format_version']}, newer than this "
                    f"release reads ({FORMAT_VERSION}); restore it with a newer toolcatalog"
                )
            return cls(
                toolcatalog_version=str(doc["toolcatalog_version"]),
                created_at=str(doc["created_at"]),
                migrations=[
                    {
                        "version": int(m["version"]),
                        "name": str(m["name"]),
                        "checksum": str(m["checksum"]),
                    }
                    for m in doc["migrations"]
                ],
                tables=[
                    TableEntry(
                        str(t["name"]),
                        [str(c) for c in t["columns"]],
                        int(t["rows"]),
                        str(t["member"]),
                    )
                    for t in doc["tables"]
                ],
                sequences={str(k): int(v) for k, v in doc["sequences"].items()},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidBackup(f"{where}: unreadable manifest ({exc})") from None


def _migration(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": int(doc["version"]),
        "name": str(doc["name"]),
        "checksum": str(doc["checksum"]),
    }


def _table(doc: dict[str, Any]) -> TableEntry:
    columns = [str(c) for c in doc["columns"]]
    return TableEntry(str(doc["name"]), columns, int(doc["rows"]), str(doc["member"]))


class ArchiveWriter:
    """Writes an archive to `<path>.partial` and renames it to `path` on `commit()`;
    `discard()` (or leaving the block without commit) removes the partial file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._zip = zipfile.ZipFile(self._partial, "w", compression=zipfile.ZIP_DEFLATED)
        self._committed = False

    def member(self, name: str) -> IO[bytes]:
        """A binary stream for one member; close it before opening the next."""
        return self._zip.open(name, "w", force_zip64=True)

    def commit(self, manifest: Manifest) -> None:
        self._zip.writestr(MANIFEST, manifest.to_json())
        self._zip.close()
        with self._partial.open("rb") as f:
            os.fsync(f.fileno())
        self._partial.replace(self.path)
        self._committed = True

    def discard(self) -> None:
        if not self._committed:
            with contextlib.suppress(ValueError, OSError):
                self._zip.close()
            self._partial.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[ArchiveWriter]:
    try:
        writer = ArchiveWriter(path)
    except OSError as exc:
        raise InvalidBackup(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield writer
    finally:
        writer.discard()


class ArchiveReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path, "r")
            data = self._zip.read(MANIFEST)
        except FileNotFoundError:
            raise InvalidBackup(f"{path}: no such file") from None
        except KeyError:
            raise InvalidBackup(f"{path} is not a toolcatalog backup (no {MANIFEST})") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidBackup(f"{path} is not a readable backup archive ({exc})") from None
        self.manifest = Manifest.from_json(data, str(path))
        names = set(self._zip.namelist())
        missing = [t.member for t in self.manifest.tables if t.member not in names]
        if missing:
            raise InvalidBackup(f"{path} is incomplete: no member {missing[0]}")

    def member(self, name: str) -> IO[bytes]:
        return self._zip.open(name, "r")

    def close(self) -> None:
        self._zip.close()


@contextlib.contextmanager
def reading(path: Path) -> Iterator[ArchiveReader]:
    reader = ArchiveReader(path)
    try:
        yield reader
    finally:
        reader.close()
