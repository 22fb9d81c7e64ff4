"""The catalog version kept on disk between starts, so that a restart reads from the database
only the rows that changed since it was saved.

A start used to read, decode, validate and encode every stored tool (100,000 tools: 85 s of
a 195 s start, most of it pydantic validation and its Python validators); unpickling the
same entries costs a fifth of that (10,000 tools: 1.1 s of CPU against 5 s). Each saved tool
carries the stamp of the row it was built from (`store.tools.fetch_tool_stamps`: the row
version's `xmin` with its revision and ETag), so any change to a row since, an edit in SQL
included, shows as a different stamp and that row is read and validated again; rows gone are
dropped.

The key is the database, the release and the source files of the code that validates and
encodes a stored tool (model/, formats/, this package's views, version and entries): an edit of
any of them misses, and the whole catalog is read and validated again, so a row that no longer
validates under the current model is still left out with a log. The file carries a magic,
the key's digest and, at its end, the SHA-256 of everything after the key; one that does not
match in any way (torn write, disk error, an older layout, classes that changed) is ignored
and rewritten. Writes go to a temporary file renamed into place.

The entries' search lexemes are codes of the process's lexicon (lexicon.py): the file holds that
lexicon first, and a load takes its codes back into the loading process's (`Lexicon.adopt`;
the same codes in a process that knew no lexeme before, else each entry's terms translated).

An `Attachment` keeps another layer's state made from the same tools in the same file (the
selector's index, selection/saved_index.py): its own key (the digest of its code), its bytes
after the entries under the file's digest, made and read by the attachment itself, which gets
the loaded tools by name. An attachment under another key, or one that fails to load, is
dropped (logged) and the entries are used all the same.

Pickle, because the payload is our own validated objects, as in selection/folder_cache.py:
the file lives in TOOLCATALOG_HOME, which only the user who runs toolcatalog writes (the same
trust as the installed code), and is checked against its digest before anything in it is used.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import io
import logging
import os
import pickle
import struct
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pydantic import BaseModel

from toolcatalog.catalog.lexicon import LEXICON, Lexicon
from toolcatalog.catalog.views import CachedTool
from toolcatalog.config import toolcatalog_version
from toolcatalog.model.tool import Tool

log = logging.getLogger(__name__)

_MAGIC = b"toolcatalog-version-2\n"
_LENGTH = struct.Struct("<Q")
_DIGEST_SIZE = hashlib.sha256().digest_size
_BLOCK = 8 << 20  # bytes hashed per read
# Tools pickled per call: a call holds the GIL throughout (~0.27 ms a tool), so a save beside
# a serving loop pickles a few at a time and lets the loop run in between.
_CHUNK = 16
_PAUSE_S = 0.001
_PACKAGE = Path(__file__).resolve().parents[1]
# What validates and encodes a stored tool: a change to any of it misses (text_query.py makes
# each entry's search lexemes, CachedTool.terms).
_CODE = (
    "model",
    "formats",
    "catalog/views.py",
    "catalog/version.py",
    "catalog/entries.py",
    "catalog/saved.py",
    "catalog/text_query.py",
    "catalog/lexicon.py",
)

# name -> (the row's stamp when saved, the entry built from it)
SavedEntries = dict[str, tuple[str, CachedTool]]


def _code_files(parts: Sequence[str]) -> Iterator[Path]:
    for part in parts:
        path = _PACKAGE / part
        if path.is_dir():
            # Not the bytecode caches: not the code, and a compile writes a temporary file
            # there (`name.pyc.<id>`, renamed into place) that a walk could meet half-written.
            found = (p for p in path.rglob("*") if "__pycache__" not in p.parts and p.is_file())
            yield from sorted(found)
        else:
            yield path


@functools.cache
def code_stamp(parts: tuple[str, ...] = _CODE) -> str:
    """The release and the digest of the contents of `parts` (files or folders of the package;
    not mtimes: a checkout or a rebase that leaves the code as it was keeps the saved version;
    ~1 ms for the catalog's, ~5 ms for the selector's with its data files). Taken once a
    process, at its first use: the code this process runs. Read again at each runtime, a
    file edited, checked out or upgraded while the process ran gave its later runtimes
    another key than its earlier ones (their saved state missed: a test of a restart failed
    so while selection's files were being edited), and the old code's state the new key."""
    digest = hashlib.sha256()
    for file in _code_files(parts):
        if file.suffix == ".pyc":
            continue
        digest.update(str(file.relative_to(_PACKAGE)).encode() + b"\0" + file.read_bytes())
    return f"{toolcatalog_version()} {digest.hexdigest()}"


class Attachment(Protocol):
    """State another layer derives from the saved tools, saved and loaded with them."""

    @property
    def key(self) -> str:
        """The digest of the code that makes and reads the state (see `code_stamp`): a saved
        state under another key is not loaded."""

    def dump(self, tools: Sequence[Tool], stopping: threading.Event) -> bytes | None:
        """The state made from exactly `tools` (the saved entries' models), or None when
        there is none for them or `stopping` was set. Called in the save's thread; pauses
        now and then so that the serving loop keeps the GIL."""

    def load(self, data: bytes, tools: Mapping[str, Tool]) -> object:
        """The state of `data`, referring to the loaded `tools` (by name). May raise: the
        state is then dropped."""


class SavedVersion:
    """The saved catalog version of one database, under `directory`."""

    def __init__(self, directory: Path, database: str, lexicon: Lexicon = LEXICON) -> None:
        self.directory = directory
        self.lexicon = lexicon  # whose codes the entries' terms are
        name = hashlib.sha256(database.encode()).hexdigest()[:24]
        self.file = directory / f"version-{name}.saved"
        self._key = hashlib.sha256(repr((database, code_stamp())).encode()).digest()
        self.stopping = threading.Event()  # set to abandon a save in progress
        # Saved and loaded with the entries when set (the runtime sets the selector's).
        self.attachment: Attachment | None = None
        self.attached: object | None = None  # what the last `load` loaded of it
        # False: load only. A server worker whose selector runs in its own process
        # (selection/process.py) leaves the file to that process, which saves it with the
        # selector's index attached (a save without it would drop it for the next start).
        self.writes = True

    def take_attached(self) -> object | None:
        """The attachment's state the last `load` found (once: it is forgotten here)."""
        found, self.attached = self.attached, None
        return found

    def matches(self) -> bool:
        """Whether a file saved under this key is there (its contents are checked by `load`)."""
        try:
            with self.file.open("rb") as f:
                return f.read(len(_MAGIC)) == _MAGIC and f.read(len(self._key)) == self._key
        except OSError:
            return False

    def load(self) -> SavedEntries | None:
        """The saved entries, or None when there is no usable file. Blocking: run it in a
        thread, with the cyclic collector paused (millions of objects at 100,000 tools)."""
        try:
            with self.file.open("rb") as f:
                return self._read(f)
        except FileNotFoundError:
            return None
        except Exception as exc:  # any failure means: read the whole catalog
            log.info("saved catalog version %s is unreadable (%s); reading it all", self.file, exc)
            return None

    def _read(self, f: BinaryIO) -> SavedEntries | None:
        if f.read(len(_MAGIC)) != _MAGIC or f.read(len(self._key)) != self._key:
            return None
        # The digest is taken beside the unpickling, in another thread (hashlib and pread
        # release the GIL): 1.1 GB at 100,000 tools, ~2 s of CPU that was on the load's path.
        # Nothing loaded is used before it matches (the attachment is loaded after).
        fd, start = f.fileno(), f.tell()
        end = os.fstat(fd).st_size - _DIGEST_SIZE
        with ThreadPoolExecutor(1, thread_name_prefix="toolcatalog-digest") as pool:
            digest = pool.submit(_digest_of, fd, start, end)
            (size,) = _LENGTH.unpack(f.read(_LENGTH.size))
            moved = self.lexicon.adopt(pickle.loads(f.read(size)))
            found: SavedEntries = {}
            while True:
                (size,) = _LENGTH.unpack(f.read(_LENGTH.size))
                if size == 0:
                    break
                for name, stamp, entry in pickle.loads(f.read(size)):
                    if moved is not None:
                        _set(entry, "terms", entry.terms.translate(moved))
                    found[name] = (stamp, entry)
            key, data = self._read_attachment(f)
            whole = f.tell() == end and f.read() == digest.result()
        if not whole:
            log.info("saved catalog version %s is damaged; reading it all", self.file)
            return None
        self.attached = self._load_attachment(key, data, found)
        return found

    @staticmethod
    def _read_attachment(f: BinaryIO) -> tuple[bytes, bytes]:
        parts = []
        for _ in range(2):  # its key, then its bytes
            (size,) = _LENGTH.unpack(f.read(_LENGTH.size))
            parts.append(f.read(size))
        return parts[0], parts[1]

    def _load_attachment(self, key: bytes, data: bytes, found: SavedEntries) -> object | None:
        attachment = self.attachment
        if attachment is None or not data or key != attachment.key.encode():
            return None
        try:
            return attachment.load(data, {name: entry.tool for name, (_s, entry) in found.items()})
        except Exception as exc:  # any failure means: build it again
            log.info("the state saved with %s is not usable (%s); building it", self.file, exc)
            return None

    def store(self, tools: Iterable[tuple[str, str, CachedTool]]) -> bool:
        """Save (name, stamp, entry) for every tool; False (logged) when it could not be, or
        was abandoned (`stopping`). Blocking and slow (100,000 tools: ~30 s of CPU): run it
        in a thread; it pauses between chunks so the loop keeps answering."""
        if not self.writes:
            return False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self.file.with_suffix(".lock").open("ab") as lock:
                try:
                    # Workers started together save the same version: one is enough.
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return self._write_file(tools)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
            log.info("could not save the catalog version %s: %s", self.file, exc)
            return False

    def _write_file(self, tools: Iterable[tuple[str, str, CachedTool]]) -> bool:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".version-")
        try:
            with os.fdopen(fd, "wb") as out:
                done = self._write(out, tools)
            if done:
                os.replace(tmp, self.file)
            return done
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _write(self, out: BinaryIO, tools: Iterable[tuple[str, str, CachedTool]]) -> bool:
        out.write(_MAGIC + self._key)
        digest = hashlib.sha256()
        # The lexemes of the entries' terms (made before the save began), without those no
        # entry uses any more: a lexicon carried from restart to restart would only grow.
        tools = tools if isinstance(tools, list) else list(tools)
        lexemes, table = self.lexicon.compacted([entry.terms for _n, _s, entry in tools])
        _write_chunk(out, digest, lexemes)
        chunk: list[tuple[str, str, CachedTool]] = []
        saved: list[Tool] = []
        for item in tools:
            if table is not None:
                name, stamp, entry = item
                item = (name, stamp, replace(entry, terms=entry.terms.translate(table)))
            chunk.append(item)
            saved.append(item[2].tool)
            if len(chunk) == _CHUNK:
                if self.stopping.is_set():
                    return False
                _write_chunk(out, digest, chunk)
                chunk = []
                time.sleep(_PAUSE_S)
        if chunk:
            _write_chunk(out, digest, chunk)
        end = _LENGTH.pack(0)
        digest.update(end)
        out.write(end)
        attachment, key, data = self.attachment, b"", b""
        if attachment is not None and not self.stopping.is_set():
            try:
                made = attachment.dump(saved, self.stopping)
            except Exception as exc:  # the entries are worth saving without it
                log.info("could not save the state attached to %s: %s", self.file, exc)
                made = None
            if made is not None:
                key, data = attachment.key.encode(), made
        for part in (key, data):
            head = _LENGTH.pack(len(part))
            digest.update(head)
            digest.update(part)
            out.write(head + part)
        out.write(digest.digest())
        return True


def _digest_of(fd: int, start: int, end: int) -> bytes:
    """The SHA-256 of the bytes of `fd` from `start` to `end` (pread: the reader's position
    is left alone)."""
    digest = hashlib.sha256()
    at = start
    while at < end:
        block = os.pread(fd, min(_BLOCK, end - at), at)
        if not block:
            break
        digest.update(block)
        at += len(block)
    return digest.digest()


_new = object.__new__
_set = object.__setattr__


def _model(
    cls: type[BaseModel], values: dict[str, Any], fields_set: set[str], private: Any
) -> BaseModel:
    """A pydantic model as pydantic's own `__setstate__` makes it (its four slots set), in one
    call: the default form builds a state dict and reads it back key by key in pydantic's
    `__setstate__`, for each of a generated tool's ~10 models (half of the entries' unpickling
    under a profiler)."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", private)
    return model


_GETSTATE, _SETSTATE = BaseModel.__getstate__, BaseModel.__setstate__
_CACHED_FIELDS = tuple(f.name for f in fields(CachedTool))  # its __init__'s order


class _Pickler(pickle.Pickler):
    """Pickles a saved version's entries in a leaner form than the default: a pydantic model
    (one without extra fields or its own pickling) as one `_model` call, a `CachedTool` as a
    call of its class with its fields in order (a frozen dataclass with slots unpickles by
    default through `fields()` and a `setattr` per field, in Python). The values and their
    sharing inside a chunk are as before; unpickling 10,000 generated tools' entries took
    0.37 -> 0.29 s of CPU, pickling them 0.47 -> 0.37 s. A model that keeps extra fields or
    pickles itself keeps pydantic's form."""

    def reducer_override(self, obj: object) -> Any:
        if type(obj) is CachedTool:
            return CachedTool, tuple(getattr(obj, name) for name in _CACHED_FIELDS)
        if isinstance(obj, BaseModel) and obj.__pydantic_extra__ is None:
            cls = type(obj)
            if cls.__getstate__ is _GETSTATE and cls.__setstate__ is _SETSTATE:
                state = (cls, obj.__dict__, obj.__pydantic_fields_set__, obj.__pydantic_private__)
                return _model, state
        return NotImplemented


def _dumps_chunk(chunk: Sequence[object]) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(chunk)
    return buffer.getvalue()


def _write_chunk(out: BinaryIO, digest: hashlib._Hash, chunk: Sequence[object]) -> None:
    data = _dumps_chunk(chunk)
    head = _LENGTH.pack(len(data))
    digest.update(head)
    digest.update(data)
    out.write(head + data)
