"""The embedding cache: text -> embedding for every index a Selector builds, kept in an .npz
file per encoder between runs and optionally shared with other processes (SharedVectors, the
database's in the service), so a hot reload or a restart embeds only texts never seen.

Texts come and go (every changed description is a new text), so the cache is pruned to the
texts its indexes use (`retain`): a vector no index has used is kept through at least one
PRUNE_EVERY_S (a revert, another catalog in the same home, a replica on an older version
find it still), and shared rows and other encoders' files unused for FORGET_AFTER_S are
deleted. Without it a long-running service under writes grew by ~1.5 KB a changed text,
in memory, in its file and in the database, forever.

New vectors are appended to a side file (cache_log.py: one small write and fsync a call) and
folded into the main file, which is rewritten whole, only by a call that embeds many texts
(a start, an import, a CLI run) or by `retain` (at the first index filled and hourly), and
only once the side file is large beside it (FOLD_SHARE) or a prune dropped vectors: a
write's few texts never rewrite every vector."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from toolcatalog.files import replace_atomically
from toolcatalog.selection.cache_file import MappedRows, file_identity, read_rows, write_rows
from toolcatalog.selection.cache_log import Batch, CacheLog, log_path
from toolcatalog.selection.calibration_file import calibration_path
from toolcatalog.selection.encoders.minilm import Array, MiniLMEncoder
from toolcatalog.selection.scan_file import levels_path

log = logging.getLogger(__name__)

# Texts embedded between progress reports, stop checks and checks whether to append to the
# side file: small enough that a stop waits a second or two, not the ~10 s of 512 under load.
EMBED_CHUNK = 128
SAVE_EVERY_S = 30.0  # a long embedding appends what it did this often (a restart keeps it)
# A call embedding this many texts may fold the side file into the main file (a start, an
# import, a CLI run that may exit next); a write's few texts are only appended.
SAVE_AFTER_TEXTS = 64
# The side file is folded once it holds more rows than FOLD_SHARE of the main file's, plus
# FOLD_SLACK: its vectors are held in memory (the main file's are mapped), and a start reads
# it whole (at 100,000 generated tools: up to 30,000 rows, 46 MB).
FOLD_SHARE = 0.05
FOLD_SLACK = 4096
# A prune is considered once the cache holds PRUNE_SHARE more texts than its indexes use, plus
# PRUNE_SLACK (each ~1.5 KB), and at most every PRUNE_EVERY_S: a vector not used since the last
# prune goes at the next one, so it is kept between one and two intervals.
PRUNE_SHARE = 0.25
PRUNE_SLACK = 1024
PRUNE_EVERY_S = 3600.0
# Rows shared through the database that no index here uses, and other encoders' cache files,
# are deleted once this old (a week: a replica still on an older version re-embeds at worst).
FORGET_AFTER_S = 7 * 86400.0


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class SharedVectors(Protocol):
    """Embeddings shared beyond this process (shared_vectors.DatabaseVectors): `kind` names
    the encoder, keys are text digests. Either call may raise; the cache then goes on alone."""

    def fetch(self, kind: str, keys: Sequence[bytes], size: int) -> dict[bytes, Array]: ...

    def publish(self, kind: str, vectors: Mapping[bytes, Array]) -> None: ...

    def forget(self, kind: str, keep: Sequence[bytes], older_than_s: float) -> int:
        """Delete the rows of `kind` older than `older_than_s` but those of `keep`, and
        every other encoder's rows that old; the number of rows deleted."""
        ...


class EmbeddingCache:
    """Text -> embedding, shared by every index a Selector builds; optionally persisted in an
    .npz file and its side file (appended to as new texts are embedded, both read at start)
    and shared with other processes through `shared` under `kind` (the encoder's name).
    Thread-safe.

    One row per text: the rows read from the main file stay in it, mapped (cache_file.py:
    a restart gathers the rows its index needs and the pages go back to the kernel), and
    those read from the side file, embedded or fetched since are kept in memory until a
    fold writes them into the main file and maps them too.
    At 100,000 generated tools (500,405 texts, 0.77 GB of float32) a restart held them
    once as a dict of per-row arrays, once stacked per text (1.1 GB) and once per row."""

    def __init__(
        self, path: Path | None = None, shared: SharedVectors | None = None, kind: str = ""
    ) -> None:
        self.path = path
        self.shared = shared
        self.kind = f"embedding:{kind}"
        self.computed = 0  # texts this process embedded
        self.fetched = 0  # and those it got from `shared`
        # Each text's row: below len(self._file) in the mapped file, the others in `_added`.
        self._rows: dict[bytes, int] = {}
        self._file: MappedRows = MappedRows.empty()
        self._added: list[Array] = []
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # one fold at a time
        self._log = CacheLog(log_path(path)) if path is not None else None
        self._pending: list[bytes] = []  # held, but in neither file yet
        # Texts cached since the last prune: the next prune keeps them; and until an interval
        # went by, every text (`_all_young`: those read from the files too, without a set of
        # them, ~32 MiB at 100,000 generated tools held while serving).
        self._young: set[bytes] = set()
        self._all_young = True
        self._pruned_at = time.monotonic()
        self._forgot_foreign = False
        self._file_id: tuple[int, ...] | None = None  # of the main file read or written here
        # The side file first: a fold beside this start writes the main file before it cuts
        # the side file, so the rows it folds are in one or the other as read here.
        logged: list[Batch] = []
        if self._log is not None:
            try:
                logged = self._log.read()
            except OSError as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", self._log.path, exc)
        if path is not None and path.is_file():
            try:
                self._file_id = file_identity(path)
                keys, self._file = read_rows(path)
                self._rows = dict(zip(keys, range(len(keys)), strict=True))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        self._take(logged)

    def __len__(self) -> int:
        return len(self._rows)

    def embed(
        self,
        encoder: MiniLMEncoder,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> Array:
        """Embeddings of `texts`, computing only those not cached; `progress` is told how
        many of `texts` are in (cached first, then after each chunk)."""
        if not texts:
            return np.zeros((0, encoder.hidden), dtype=np.float32)
        return self._gather(self._cached(encoder, texts, progress), encoder.hidden)

    def parts(
        self,
        encoder: MiniLMEncoder,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> Callable[[int, int], Array]:
        """`embed` without gathering every vector at once: the vectors of `texts[start:stop]`
        on demand (cached now). A start's index reads them a part at a time into the scan's
        file (cosine_scan.levels_in_parts): the whole matrix gathered, with the temporary
        of its mapped rows, was 2 x 879 MiB at 100,000 generated tools, the start's peak."""
        keys = self._cached(encoder, texts, progress) if texts else []

        def part(start: int, stop: int) -> Array:
            try:
                return self._gather(keys[start:stop], encoder.hidden)
            except KeyError:  # pruned since (another index's `retain`): embedded again
                return self.embed(encoder, texts[start:stop])

        return part

    def _cached(
        self,
        encoder: MiniLMEncoder,
        texts: Sequence[str],
        progress: Callable[[int], None] | None,
    ) -> list[bytes]:
        """The keys of `texts`, every one cached once this returns (`embed`)."""
        keys = list(map(_key, texts))
        with self._lock:
            rows = self._rows
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in rows}
        if missing and self.shared is not None:
            found = self._fetch(list(missing), encoder.hidden)
            with self._lock:
                self._add(found.keys(), found.values())
                self.fetched += len(found)
            missing = {k: t for k, t in missing.items() if k not in found}
        if progress is not None:
            progress(len(texts) - len(missing))
        if missing:
            # In chunks, kept every SAVE_EVERY_S and published as they come: a large catalog
            # takes minutes, and a restart meanwhile keeps what was done.
            pending = list(missing)
            saved = time.monotonic()
            done = 0
            try:
                for at in range(0, len(pending), EMBED_CHUNK):
                    chunk = pending[at : at + EMBED_CHUNK]
                    fresh = encoder.encode([missing[k] for k in chunk])
                    with self._lock:
                        self._add(chunk, fresh)
                        self.computed += len(chunk)
                    done = at + len(chunk)
                    if progress is not None:
                        progress(len(texts) - len(missing) + done)
                    self._publish(dict(zip(chunk, fresh, strict=True)))
                    if time.monotonic() - saved > SAVE_EVERY_S and done < len(pending):
                        self._keep(many=True)
                        saved = time.monotonic()
            except BaseException:
                # Stopped (a CLI run that answered, a shutdown) or failed: what was embedded
                # is kept for the next run (a terse catalog's clauses come after its answers).
                self._keep(many=False)
                raise
        # The main file holds every vector (3 MB for the starter catalog, 0.9 GB at 100,000
        # generated tools): rewriting it for the one text a write changed held the GIL for
        # seconds beside the serving threads. A write's texts are appended to the side file;
        # only a caller that embedded many folds it in, and only once it is large.
        self._keep(many=len(missing) >= SAVE_AFTER_TEXTS)
        return keys

    def _add(self, keys: Iterable[bytes], vectors: Iterable[Array], kept: bool = False) -> None:
        """Hold `vectors` as the rows of `keys` (under the lock); `kept`: they are in the
        side file already, else they are pending."""
        for key, vector in zip(keys, vectors, strict=True):
            if key not in self._rows:
                self._rows[key] = len(self._file) + len(self._added)
                self._added.append(vector)
                self._young.add(key)
                if not kept:
                    self._pending.append(key)

    def _take(self, batches: list[Batch]) -> None:
        """Hold the rows of side file records (others' appends, or a start's read) that are
        not held yet; records of another vector size are ignored."""
        with self._lock:
            size = self._file.rows.shape[1] if len(self._file) else None
            for batch in batches:
                if size is None or batch.vectors.shape[1] == size:
                    self._add(batch.keys, batch.vectors, kept=True)
                    size = batch.vectors.shape[1]

    def _keep(self, many: bool) -> None:
        """Put the pending rows in a file: fold the side file into the main file when `many`
        (the caller embedded many texts) and it is large or there is no main file yet (a
        first run), else append them to it."""
        if self._log is None:
            self._pending = []
        elif many and (
            self._log.rows + len(self._pending)
            > (FOLD_SHARE * len(self._file) + FOLD_SLACK if len(self._file) else 0)
        ):
            self._save()
        else:
            self._flush(sync=many)

    def _flush(self, sync: bool = True) -> None:
        """Append the pending rows to the side file (and hold those others appended); when
        not `sync` (a write's few), fsynced by a thread beside (CacheLog.append)."""
        assert self._log is not None
        with self._lock:
            keys = [k for k in self._pending if k in self._rows]  # not dropped meanwhile
            self._pending = []
            if not keys:
                return
            base = len(self._file)
            vectors = np.stack([self._added[self._rows[k] - base] for k in keys])
        try:
            others = self._log.append(keys, vectors, sync)
        except OSError as exc:  # they stay held: a restart embeds them again
            log.warning("could not append to the embedding cache %s: %s", self._log.path, exc)
            return
        self._take(others)

    def _gather(self, keys: Sequence[bytes], size: int) -> Array:
        """The vectors of `keys` (all held), in their order: one array, the file's rows read
        from the mapping, whose pages are then released."""
        with self._lock:
            rows = np.fromiter(map(self._rows.__getitem__, keys), dtype=np.int64, count=len(keys))
            mapped, added = self._file, self._added
        in_file = rows < len(mapped)
        if len(rows) and in_file.all():  # a start's: no second copy through a mask
            return mapped.take(rows)
        out = np.empty((len(keys), size), dtype=np.float32)
        if in_file.any():
            out[in_file] = mapped.take(rows[in_file])
        if not in_file.all():
            at = np.flatnonzero(~in_file)
            out[at] = np.stack([added[i] for i in (rows[at] - len(mapped)).tolist()])
        return out

    def due(self) -> bool:
        """Whether `retain` would do anything now (it is called after every index fill)."""
        return not self._forgot_foreign or time.monotonic() - self._pruned_at >= PRUNE_EVERY_S

    def retain(self, live: Collection[str], now: float | None = None) -> int:
        """Once every PRUNE_EVERY_S: when the cache has outgrown the `live` texts (those the
        indexes use; see PRUNE_SHARE), drop every vector but theirs and those cached in the
        last interval, save the file and forget stale shared rows. Other encoders' old files
        are deleted at the first call. A side file grown large is folded into the main file
        (at the first call, a start's, and hourly). The number of vectors dropped."""
        now = time.monotonic() if now is None else now
        if not self._forgot_foreign:
            self._forgot_foreign = True
            self._forget_files()
        if now - self._pruned_at < PRUNE_EVERY_S:
            self._keep(many=True)
            return 0
        if len(self._rows) <= len(live) * (1 + PRUNE_SHARE) + PRUNE_SLACK:
            with self._lock:  # an interval went by: what was young is old now
                self._young, self._all_young = set(), False
                self._pruned_at = now
            self._keep(many=True)
            return 0
        keep = {_key(t) for t in live}
        with self._lock:
            young = self._rows if self._all_young else self._young
            stale = [k for k in self._rows if k not in keep and k not in young]
            for k in stale:
                del self._rows[k]
            self._young, self._all_young = set(), False
            self._pruned_at = now
        log.info(
            "embedding cache pruned",
            extra={"dropped": len(stale), "kept": len(self._rows), "kind": self.kind},
        )
        self._save()
        if self.shared is not None:
            try:
                self.shared.forget(self.kind, sorted(keep), FORGET_AFTER_S)
            except Exception as exc:  # the rows stay: deleting them is housekeeping
                log.warning("could not delete stale shared embeddings: %r", exc)
        return len(stale)

    def _take_folded(self, path: Path) -> None:
        """Hold the rows of the main file that another process folded since this one read or
        wrote it (under the fold's lock): their records were cut from the side file, maybe
        before this process read them, and the main file this fold writes would lose them."""
        try:
            if file_identity(path) == self._file_id:
                return
            keys, other = read_rows(path)
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError) as exc:  # this fold writes a whole one
            log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
            return
        with self._lock:
            size = self._file.rows.shape[1] if len(self._file) else None
            if size is not None and other.rows.shape[1] != size:
                return
            new = [at for at, key in enumerate(keys) if key not in self._rows]
            # Views of its mapping: written from it, then mapped from the new file.
            self._add([keys[at] for at in new], (other.rows[at] for at in new), kept=True)

    def _forget_files(self) -> None:
        """Delete other encoders' cache, calibration and scan level files (and writers' leftover
        temporary files) that have not been written for FORGET_AFTER_S: their texts are
        re-embedded by now."""
        if self.path is None or self._log is None or not self.path.parent.is_dir():
            return
        cutoff = time.time() - FORGET_AFTER_S
        folder = self.path.parent
        kept: tuple[Path | None, ...] = (self.path, self._log.path, self._log.fold_lock)
        kept += (calibration_path(self.path), levels_path(self.path))
        for other in [*folder.glob("*.npz*"), *folder.glob("*.calibration.json*")]:
            if other in kept:
                continue
            try:
                if other.stat().st_mtime < cutoff:
                    other.unlink()
                    log.info("deleted an unused embedding cache", extra={"path": str(other)})
            except OSError as exc:  # another worker's, gone already, or not ours to delete
                log.debug("kept embedding cache %s: %s", other, exc)

    def _fetch(self, keys: list[bytes], size: int) -> dict[bytes, Array]:
        assert self.shared is not None
        try:
            return self.shared.fetch(self.kind, keys, size)
        except Exception as exc:  # sharing is an optimisation: embed locally instead
            log.warning("could not read shared embeddings, computing them: %r", exc)
            self.shared = None  # and do not wait on it again in this process
            return {}

    def _publish(self, vectors: dict[bytes, Array]) -> None:
        if self.shared is None:
            return
        try:
            self.shared.publish(self.kind, vectors)
        except Exception as exc:
            log.warning("could not share embeddings with other replicas: %r", exc)
            self.shared = None

    def _save(self) -> None:
        """Fold: write every held row to the main file (files.replace_atomically: the workers
        of one server share it), hold them mapped from it, and cut the side file to the
        records appended meanwhile. Skipped (the rows appended instead) while another
        process folds."""
        if self._log is None or self.path is None:
            self._pending = []
            return
        path = self.path
        with self._save_lock, self._log.folding() as alone:
            if not alone:
                self._flush()
                return
            try:
                others, mark = self._log.mark()
            except OSError as exc:
                log.warning("could not read the embedding cache %s: %s", self._log.path, exc)
                return
            self._take(others)
            self._take_folded(path)
            with self._lock:
                keys = list(self._rows)
                rows = np.fromiter(self._rows.values(), dtype=np.int64, count=len(keys))
                mapped, added = self._file, list(self._added)
                pending, self._pending = self._pending, []
            try:
                replace_atomically(path, lambda out: write_rows(out, keys, rows, mapped, added))
                self._take(self._log.cut(mark))
                self._file_id = file_identity(path)  # no other fold replaces it: we hold the lock
                written, remapped = read_rows(path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("could not write the embedding cache %s: %s", self.path, exc)
                with self._lock:
                    self._pending = pending + self._pending
                self._flush()
                return
            with self._lock:
                # Rows added while writing stay in memory; rows dropped meanwhile stay out.
                later = {k: r for k, r in self._rows.items() if r >= len(mapped) + len(added)}
                held = self._rows
                self._rows = {k: r for r, k in enumerate(written) if k in held}
                base = len(remapped)
                self._added = [self._added[r - len(mapped)] for r in later.values()]
                self._rows.update(zip(later, range(base, base + len(later)), strict=True))
                self._file = remapped
