"""The int8 scan's levels (cosine_scan.py) kept beside the embedding cache's file, so that a
restart over the same rows reads them instead of computing them again: at 100,000 generated
tools the build rounds 500,000 rows of 384 floats in float64 on two levels (~8 s of CPU,
the largest part of a restart's semantic index once the vectors and the calibration are
read back).

The file (`<encoder>.levels.npz`, uncompressed) holds the levels of one matrix (the last
built, by any worker of the home), the matrix itself, and the digest they were built from:
the scan's code, this file's, and the matrix, bit for bit. Any other digest, a file that
does not fit the matrix or cannot be read, and the levels are computed (and the file
replaced). The digest reads the matrix once (blake2b, ~0.7 ms a MB: ~0.6 s at 100,000
tools, against the ~8 s it saves).

The levels read and the matrix stay in the file, mapped, not in the process's memory: a
request reads a few rows of the matrix and of the second level (the tiers that settle the
tools in doubt), and the first level's codes are read once, when ONNX Runtime packs them.
At 100,000 generated tools that is 1.3 GB a worker no longer holds (its float32 rows
879 MiB, the second level 220 MiB, its copy of the codes 220 MiB)."""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import mmap
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from toolcatalog.files import replace_atomically
from toolcatalog.selection.cache_file import map_arrays
from toolcatalog.selection.npz_parts import NpzParts, write_npz

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
# libc's madvise through ctypes, which lets go of the GIL for the call.
_madvise = ctypes.CDLL(None, use_errno=True).madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int
_ARRAYS = ("codes_t", "fine_rows", "scales", "fine_scales", "norms")
_MAPPED = ("codes_t", "fine_rows", "matrix")  # read in place; the others (~50 B a row) copied
# matching_levels compares this many rows at a time (6 MB of 384 float32, and the cache's
# part as large), and hands the file's pages read back every _RELEASE_PARTS parts.
_COMPARED_ROWS = 4096
_RELEASE_PARTS = 8


@dataclass(frozen=True)
class Int8Levels:
    """What the int8 pass computes from the rows (each row's alone): the first level's codes
    transposed (d x n int8) and scales, the second level's codes as sent (n x d uint8) and
    scales, and the norms of each tier (5 x n, cosine_scan._Norms's order). Read from a file,
    they come with the rows they are the levels of (`matrix`) and the file's `mapping`,
    which holds the codes, the second level and the matrix."""

    codes_t: npt.NDArray[np.int8]
    fine_rows: npt.NDArray[np.uint8]
    scales: Floats
    fine_scales: Floats
    norms: Floats
    matrix: npt.NDArray[np.float32] | None = None
    mapping: mmap.mmap | None = None

    def fits(self, rows: int, dimensions: int) -> bool:
        """Whether these are levels of `rows` rows of `dimensions`, in the types built."""
        expected: list[tuple[np.ndarray, type, tuple[int, ...]]] = [
            (self.codes_t, np.int8, (dimensions, rows)),
            (self.fine_rows, np.uint8, (rows, dimensions)),
            (self.scales, np.float64, (rows,)),
            (self.fine_scales, np.float64, (rows,)),
            (self.norms, np.float64, (5, rows)),
        ]
        if self.matrix is not None:
            expected.append((self.matrix, np.float32, (rows, dimensions)))
        return all(a.dtype == dtype and a.shape == shape for a, dtype, shape in expected)

    def release(self) -> None:
        """Hand the mapped pages read so far back to the kernel (clean file pages: they
        leave this process's resident memory and are read again from the page cache when
        next needed). Lets go of the GIL meanwhile: mmap.madvise keeps it, and the call
        waits for the other CPUs' TLB flushes (5,000 rows' pages at 100,000 tools: 3.7 ms of
        CPU, 25-30 ms of wall time on this project's VM under load)."""
        if self.mapping is not None:
            start = np.frombuffer(self.mapping, dtype=np.uint8).ctypes.data
            _madvise(start, len(self.mapping), mmap.MADV_DONTNEED)  # an error only keeps them


def levels_path(cache_file: Path | None) -> Path | None:
    """Where the levels of the embedding cache file `cache_file`'s index are kept (None:
    not)."""
    return None if cache_file is None else cache_file.with_suffix(".levels.npz")


@functools.cache
def _code() -> tuple[bytes, bytes]:
    """The code the levels are made with, and how the file is written and read: read once a
    process (the code it runs; as catalog/saved.py's code_stamp), so an edit or an upgrade
    while it runs does not key its old code's levels as the new code's."""
    here = Path(__file__)
    return here.with_name("cosine_scan.py").read_bytes(), here.read_bytes()


def levels_key(matrix: npt.NDArray[np.float32]) -> str:
    """The digest of what the levels of `matrix` are computed from (the module's
    docstring)."""
    return parts_key(matrix.shape, [matrix])


def code_key(shape: tuple[int, ...]) -> str:
    """The digest of the code and of the matrix's shape alone: what levels_key digests but
    the matrix's values. A file holding it (besides `key`) can be checked against a matrix
    by comparing the matrix it holds (matching_levels), without a digest of the matrix."""
    return _shape_digest(shape).hexdigest()


def _shape_digest(shape: tuple[int, ...]) -> hashlib.blake2b:
    digest = hashlib.blake2b(digest_size=20)
    for code in _code():
        digest.update(code)
    digest.update(f"{np.dtype(np.float32).str} {tuple(shape)}".encode())
    return digest


def parts_key(shape: tuple[int, ...], parts: Iterable[npt.NDArray[np.float32]]) -> str:
    """levels_key of the float32 matrix of `shape` whose rows `parts` gives, in order."""
    digest = _shape_digest(shape)
    for part in parts:
        digest.update(np.ascontiguousarray(part, dtype=np.float32).data)
    return digest.hexdigest()


def read_levels(path: Path | None, key: str, shape: tuple[int, int]) -> Int8Levels | None:
    """The levels kept at `path` when they were computed from what `key` digests, of a
    matrix of `shape`, with that matrix: the codes, the second level and the matrix mapped
    from the file (Int8Levels.mapping), the rest in memory."""
    return _read(path, "key", key, shape)


def matching_levels(
    path: Path | None, shape: tuple[int, int], rows: Callable[[int, int], npt.NDArray[np.float32]]
) -> Int8Levels | None:
    """read_levels of the matrix of `shape` whose rows `rows(start, stop)` gives, found by
    comparing: the file's levels when it was written by this code for a matrix of `shape`
    (its `code`: code_key) and the matrix it holds is that one, bit for bit, compared a part
    at a time. The levels are computed from the matrix alone and written with it at once
    (atomically), so they are those levels_key would find, without a copy of the matrix
    in memory or a digest of it (at 100,000 generated tools: 0.9 GB gathered from the
    embedding cache, then ~1 s of blake2b). None when the file is not such a file (an older
    one has no `code`: the caller digests as before)."""
    levels = _read(path, "code", code_key(shape), shape)
    if levels is None:
        return None
    assert levels.matrix is not None  # a file's levels come with their matrix
    for number, start in enumerate(range(0, shape[0], _COMPARED_ROWS)):
        stop = min(start + _COMPARED_ROWS, shape[0])
        if not np.array_equal(levels.matrix[start:stop], rows(start, stop)):
            levels.release()
            return None
        if number % _RELEASE_PARTS == _RELEASE_PARTS - 1:
            levels.release()  # the matrix's pages read so far go back (they stay cached)
    levels.release()
    return levels


def _read(path: Path | None, name: str, value: str, shape: tuple[int, int]) -> Int8Levels | None:
    """The levels kept at `path` when its member `name` holds `value` (see read_levels)."""
    if path is None:
        return None
    try:
        # Opened here: np.load leaves a file open when it is not a zip.
        with path.open("rb") as file:
            kept = np.load(file, allow_pickle=False)
            if not isinstance(kept, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz file")
            if name not in kept.files or str(kept[name]) != value:
                return None
            small = {name: kept[name] for name in _ARRAYS if name not in _MAPPED}
        mapped, mapping = map_arrays(path, _MAPPED)
        levels = Int8Levels(**small, **mapped, mapping=mapping)
        if not levels.fits(*shape):
            raise ValueError(f"they are not the levels of {shape[0]} rows of {shape[1]}")
        return levels
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("ignoring unreadable scan levels %s: %s", path, exc)
        return None


def write_levels(
    path: Path | None, key: str, levels: Int8Levels, matrix: npt.NDArray[np.float32]
) -> None:
    """Keep `levels` of `matrix`, computed from what `key` digests, and `matrix`, at `path`
    (atomically; a file that cannot be written is only logged: the next start computes them
    again)."""
    if path is None:
        return
    arrays = {name: getattr(levels, name) for name in _ARRAYS} | {"matrix": matrix}
    try:
        replace_atomically(
            path,
            lambda out: write_npz(
                out.fileno(),
                {"key": np.array(key), "code": np.array(code_key(matrix.shape))} | arrays,
            ),
        )
    except OSError as exc:
        log.warning("could not keep the scan levels %s: %s", path, exc)


# A scan written in parts (`written_levels`): row `start`'s on, the rows and their levels.
Part = tuple[int, npt.NDArray[np.float32], Int8Levels]


def written_levels(
    path: Path, shape: tuple[int, int], key: str | None, parts: Callable[[], Iterable[Part]]
) -> Int8Levels | None:
    """The levels of the matrix of `shape` (levels_key `key`) whose rows and levels `parts()`
    gives (every row once, in order, in parts of a few thousand rows), with that matrix,
    mapped from the file `path`: read from there when it holds them already (a restart's, or
    another worker's of the same rows), else written there part by part (neither the matrix
    nor its levels held whole) and read back. `key` None: the caller knows the file does not
    hold them (matching_levels found no such file); the key is digested from the parts as
    they are written, instead of in a pass over every row before (a start's second gather of
    the whole matrix from the embedding cache: 879 MiB at 100,000 generated tools). None
    when the file could not be written or read back (logged): the caller builds them in
    memory."""
    saved = None if key is None else read_levels(path, key, shape)
    if saved is None:
        written = key

        def write(out: BinaryIO) -> None:
            nonlocal written
            written = _write_parts(out, shape, key, parts())

        try:
            replace_atomically(path, write)
        except OSError as exc:
            log.warning("could not keep the scan levels %s: %s", path, exc)
            return None
        saved = None if written is None else read_levels(path, written, shape)
    return saved


def _write_parts(
    out: BinaryIO, shape: tuple[int, int], key: str | None, parts: Iterable[Part]
) -> str:
    """Write the scan file of `parts` (its matrix's levels_key `key`, digested from the
    parts when None) to `out`; returns the key written."""
    size, dimensions = shape
    layout = {
        "key": (np.dtype("<U40"), ()),
        "code": (np.dtype("<U40"), ()),
        "codes_t": (np.dtype(np.int8), (dimensions, size)),
        "fine_rows": (np.dtype(np.uint8), (size, dimensions)),
        "scales": (np.dtype(np.float64), (size,)),
        "fine_scales": (np.dtype(np.float64), (size,)),
        "norms": (np.dtype(np.float64), (5, size)),
        "matrix": (np.dtype(np.float32), (size, dimensions)),
    }
    file = NpzParts(out.fileno(), layout)
    file.write("code", np.array(code_key(shape)))
    digest = _shape_digest(shape) if key is None else None  # parts_key, part by part
    for start, matrix, levels in parts:
        if digest is not None:
            digest.update(np.ascontiguousarray(matrix, dtype=np.float32).data)
        file.write("matrix", matrix, start * dimensions * 4)
        file.write("fine_rows", levels.fine_rows, start * dimensions)
        file.write("scales", levels.scales, start * 8)
        file.write("fine_scales", levels.fine_scales, start * 8)
        for j, codes in enumerate(levels.codes_t):  # by column: read back for its CRC
            file.write("codes_t", codes, j * size + start)
        for k, norms in enumerate(levels.norms):
            file.write("norms", norms, (k * size + start) * 8)
    written = digest.hexdigest() if digest is not None else key
    assert written is not None
    file.write("key", np.array(written))
    file.close()
    return written
