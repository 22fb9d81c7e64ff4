"""The embedding cache's side file: vectors embedded since its main file (cache_file.py) was
last written, appended as records so that a write's few new texts cost one small write and
an fsync, not a rewrite of every vector (0.9 GB at 100,000 generated tools, its Python work
over 600,000 keys holding the GIL for seconds beside the serving threads).

The file is a header (magic, then a generation: 8 random bytes, new each time the file is
cut) followed by records: magic, row count, vector size, CRC-32 of the rest, then the rows'
16-byte keys and their little-endian float32 vectors. A reader keeps the records whose CRC
holds and skips the rest up to the next record's magic: a record torn by a crash mid-append
(at the end, or followed by another process's appends) is dropped, never read as vectors.

Several processes (the workers of one server, the CLI) share a home: each append is one
write() of whole records on an O_APPEND descriptor under an exclusive flock of the file, so
appends never interleave; before it the appender reads the records others appended since it
last looked. Folds (the cache's `_save`) take a second lock file, so one process folds at a
time; a fold writes the main file from what its process holds and the rows of a main file
another process folded since (their records cut, maybe before this one read them), then
cuts the side file to the records appended while the main file was written. A start reads
the side file before the main file: a fold beside it replaces one before it cuts the other."""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolcatalog.selection.encoders.minilm import Array

log = logging.getLogger(__name__)

KEY_BYTES = 16
_HEADER = struct.Struct("<8s8s")  # magic, generation
_FILE_MAGIC = b"TCEMBLOG"
_RECORD = struct.Struct("<8sIII")  # magic, rows, vector size, CRC-32 of what follows it
_RECORD_MAGIC = b"TCEMBREC"


@dataclass(frozen=True)
class Batch:
    """One record's rows: keys[i]'s vector is vectors[i]."""

    keys: list[bytes]
    vectors: Array


def log_path(cache_file: Path) -> Path:
    """The side file of the cache file `cache_file` (its name + ".log")."""
    return cache_file.with_name(cache_file.name + ".log")


def record(keys: Sequence[bytes], vectors: Array) -> bytes:
    """One record of `keys` and their `vectors` (rows x size)."""
    rows, size = vectors.shape
    body = struct.pack("<II", rows, size) + b"".join(keys)
    body += np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    return _RECORD.pack(_RECORD_MAGIC, rows, size, zlib.crc32(body)) + body[8:]


def records(data: bytes, at: int = 0) -> tuple[list[Batch], int]:
    """The whole records in `data` from `at` (torn or damaged ones skipped) and how many rows
    they hold."""
    found: list[Batch] = []
    count = 0
    while True:
        at = data.find(_RECORD_MAGIC, at)
        if at < 0 or at + _RECORD.size > len(data):
            return found, count
        _magic, rows, size, crc = _RECORD.unpack_from(data, at)
        end = at + _RECORD.size + rows * (KEY_BYTES + 4 * size)
        if rows == 0 or size == 0 or end > len(data):
            at += 1
            continue
        start = at + _RECORD.size
        body = memoryview(data)[start:end]
        if zlib.crc32(body, zlib.crc32(struct.pack("<II", rows, size))) != crc:
            at += 1
            continue
        keyed = start + rows * KEY_BYTES
        keys = [data[k : k + KEY_BYTES] for k in range(start, keyed, KEY_BYTES)]
        vectors = np.frombuffer(data, dtype="<f4", count=rows * size, offset=keyed)
        found.append(Batch(keys, vectors.reshape(rows, size).astype(np.float32)))
        count += rows
        at = end


class CacheLog:
    """The side file at `path`, as this process has read it: `rows` counts the rows of its
    current generation's records (those read and those appended here). Methods raise
    OSError when the file cannot be read or written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Held by a fold (`folding`), so that one process folds at a time.
        self.fold_lock = path.with_name(path.name + ".lock")
        self.rows = 0
        self._generation = b""  # of the file when it was last read here
        self._read_to = 0  # where this process's reading stopped
        self._sync_lock = threading.Lock()
        self._syncer: threading.Thread | None = None  # fsyncs appends beside (_sync_beside)
        self._unsynced = False

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """A descriptor of the file (appending) under its exclusive lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # and the lock with it

    def _unread(self, fd: int) -> list[Batch]:
        """The records appended since this process last read the file (all of them when it
        was cut meanwhile, by this process or another); under the lock."""
        size = os.fstat(fd).st_size
        if size == 0:
            self._generation, self._read_to, self.rows = b"", 0, 0
            return []
        header = os.pread(fd, _HEADER.size, 0)
        magic, generation = _HEADER.unpack(header) if len(header) == _HEADER.size else (b"", b"")
        if magic != _FILE_MAGIC:  # not ours, or its header torn: nothing in it can be trusted
            os.ftruncate(fd, 0)
            self._generation, self._read_to, self.rows = b"", 0, 0
            return []
        if generation != self._generation or size < self._read_to:
            self._generation, self._read_to, self.rows = generation, _HEADER.size, 0
        data = os.pread(fd, size - self._read_to, self._read_to)
        self._read_to = size
        found, count = records(data)
        self.rows += count
        return found

    def read(self) -> list[Batch]:
        """The records appended since this process last read the file (all at first)."""
        if not self.path.exists():  # not made by reading it
            return []
        with self._locked() as fd:
            return self._unread(fd)

    def append(self, keys: Sequence[bytes], vectors: Array, sync: bool = True) -> list[Batch]:
        """Append one record of `keys` and `vectors`, fsynced before returning or, when not
        `sync`, by a thread beside; the records other processes appended since this one
        last read the file, which were read first."""
        with self._locked() as fd:
            others = self._unread(fd)
            data = record(keys, vectors)
            if self._read_to == 0:  # a new file
                self._generation = os.urandom(8)
                data = _HEADER.pack(_FILE_MAGIC, self._generation) + data
            _write(fd, data)
            if sync:
                os.fdatasync(fd)
            self._read_to += len(data)
            self.rows += len(keys)
        if not sync:
            self._sync_beside()
        return others

    def _sync_beside(self) -> None:
        """fsync the file in a daemon thread, as often as appends ask, one thread at a time:
        a write does not wait for it (under ext4's ordered mode an fsync waits for other
        files' data too: up to ~0.1 s here while other processes write). Other processes
        read the records at once (they are written); a crash before the fsync leaves at
        worst a torn record, dropped at the next start."""
        with self._sync_lock:
            self._unsynced = True
            if self._syncer is not None:
                return
            self._syncer = threading.Thread(
                target=self._sync, name="embedding-cache-sync", daemon=True
            )
            self._syncer.start()

    def _sync(self) -> None:
        while True:
            with self._sync_lock:
                if not self._unsynced:
                    self._syncer = None
                    return
                self._unsynced = False
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:  # the records are written; only their durability waits
                log.warning("could not sync the embedding cache %s: %s", self.path, exc)

    def mark(self) -> tuple[list[Batch], int]:
        """A fold begins: the records not read yet, and where the file ends now."""
        with self._locked() as fd:
            return self._unread(fd), self._read_to

    def cut(self, mark: int) -> list[Batch]:
        """A fold wrote every record before `mark` into the main file: keep only those after
        it, in a new generation (other processes read them again, whole). The records
        appended since this process last read the file, read first."""
        with self._locked() as fd:
            generation = self._generation
            others = self._unread(fd)
            if generation != self._generation or mark > self._read_to:
                return others  # cut by another process meanwhile: what it kept stays
            tail = os.pread(fd, self._read_to - mark, mark) if mark else b""
            self._generation = os.urandom(8)
            os.ftruncate(fd, 0)
            kept = _HEADER.pack(_FILE_MAGIC, self._generation) + tail if tail else b""
            _write(fd, kept)
            os.fdatasync(fd)
            self._read_to = len(kept)
            self.rows = records(tail)[1]
            return others

    @contextmanager
    def folding(self) -> Iterator[bool]:
        """Whether this process may fold now (no other process is folding); held meanwhile."""
        try:
            self.fold_lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.fold_lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # nor could the main file be written: appending says why
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            os.utime(fd)  # in use: not an old file to delete (EmbeddingCache._forget_files)
            yield True
        finally:
            os.close(fd)


def _write(fd: int, data: bytes) -> None:
    """Write all of `data` (a regular file's write() may write less, on a signal)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
