"""The parsed and validated catalog folder, kept on disk between CLI runs.

`toolcatalog select --catalog DIR` is a fresh process each time; reading and validating the
starter catalog's 207 YAML files cost 1.9 s of its wall time (YAML 1.2 s), unpickling the
validated snapshot 0.4 s (on the shared 2-core VM under load; bench/cli_start.py).

The key is every file of the folder (path, mtime in ns, size), the folder and the mode, the
release, and the source files of the model and format code (their mtime and size), so an
edit of a definition or of the code that validates it misses. The file carries a magic, the
key's digest and the payload's SHA-256; one that does not match in any way (torn write,
disk error, an older layout, classes that changed) is ignored and rewritten. Writes go to a
temporary file renamed into place, so readers see a whole file or none.

Pickle, because the payload is our own validated objects: the cache lives in
TOOLCATALOG_HOME, a folder that only the user who runs toolcatalog writes (the same trust
as the installed code), and is checked against its digest before it is unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

from toolcatalog.config import toolcatalog_version
from toolcatalog.files import replace_atomically
from toolcatalog.model.snapshot import CatalogSnapshot

log = logging.getLogger(__name__)

_MAGIC = b"toolcatalog-snapshot-1\n"
_DIGEST = 32
# The code whose change makes a cached snapshot wrong: what parses and validates definitions.
_CODE = Path(__file__).resolve().parents[1]
_CODE_FOLDERS = ("model", "formats")


@functools.cache
def _code_stamp() -> tuple[tuple[str, int, int], ...]:
    """The code's files' mtimes and sizes, taken once a process (the code it runs; as
    catalog/saved.py's code_stamp: read again at each cache, an edit while the process ran
    made its later caches miss what its earlier ones kept)."""
    stamps: list[tuple[str, int, int]] = [(toolcatalog_version(), 0, 0)]
    for folder in _CODE_FOLDERS:
        for file in sorted((_CODE / folder).rglob("*.py")):
            st = file.stat()
            stamps.append((str(file.relative_to(_CODE)), st.st_mtime_ns, st.st_size))
    return tuple(stamps)


class FolderSnapshotCache:
    """One cache file per catalog folder and mode, under `directory`."""

    def __init__(self, directory: Path, folder: Path, *, strict: bool) -> None:
        self.directory = directory
        name = hashlib.sha256(f"{folder.resolve()}\0{strict}".encode()).hexdigest()[:24]
        self.file = directory / f"catalog-{name}.snapshot"
        self._base = repr((str(folder.resolve()), strict, _code_stamp())).encode()

    def _key(self, files: Sequence[tuple[str, int, int]]) -> bytes:
        return hashlib.sha256(self._base + repr(tuple(files)).encode()).digest()

    def load(self, files: Sequence[tuple[str, int, int]]) -> CatalogSnapshot | None:
        """The snapshot stored for exactly these files, or None."""
        try:
            data = self.file.read_bytes()
        except OSError:
            return None
        head = len(_MAGIC)
        key, digest = data[head : head + _DIGEST], data[head + _DIGEST : head + 2 * _DIGEST]
        payload = data[head + 2 * _DIGEST :]
        if not data.startswith(_MAGIC) or key != self._key(files):
            return None
        if hashlib.sha256(payload).digest() != digest:
            log.info("catalog cache %s is damaged; reading the folder", self.file)
            return None
        try:
            snapshot = pickle.loads(payload)
        except Exception as exc:  # any unpickling failure means: read the folder again
            log.info("catalog cache %s is unreadable (%s); reading the folder", self.file, exc)
            return None
        return snapshot if isinstance(snapshot, CatalogSnapshot) else None

    def store(self, files: Sequence[tuple[str, int, int]], snapshot: CatalogSnapshot) -> None:
        """Keep the snapshot for these files; a failure only costs the next run the folder."""
        try:
            payload = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
            header = _MAGIC + self._key(files) + hashlib.sha256(payload).digest()
            replace_atomically(self.file, lambda out: out.writelines((header, payload)))
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
            log.info("could not keep the catalog cache %s: %s", self.file, exc)
