"""The embedding cache's file: an .npz (uncompressed zip) of `keys` (n x 16 bytes, text
digests) and `vectors` (n x d float32), the same format np.savez writes. Its vectors are read
through a read-only mapping of the file instead of into memory: a restart gathers the rows
its index uses, and the pages it touched are given back to the kernel (they stay in the page
cache, shared by the workers of one server, and do not count in a worker's resident memory).
Written row by row in slices, so a save holds no second copy of every vector either."""

from __future__ import annotations

import mmap
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.lib.format as npy

from toolcatalog.selection.encoders.minilm import Array

KEY_BYTES = 16
_SLICE = 8192  # rows copied per step when writing (12 MB of 384 float32)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header (30 bytes)


class MappedRows:
    """Rows of float32 vectors read from a mapping of the cache file (or held in memory when
    the file could not be mapped). `take` copies rows out and releases the mapped pages."""

    def __init__(self, rows: Array, mapping: mmap.mmap | None = None) -> None:
        self.rows = rows
        self._mapping = mapping

    @classmethod
    def empty(cls) -> MappedRows:
        return cls(np.zeros((0, 0), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, rows: np.ndarray) -> Array:
        """A copy of `rows` (ascending or not)."""
        out: Array = self.rows[rows]
        self.release()
        return out

    def release(self) -> None:
        """Drop this process's hold on the pages read so far (they are clean file pages)."""
        if self._mapping is not None:
            self._mapping.madvise(mmap.MADV_DONTNEED)


def read_rows(path: Path) -> tuple[list[bytes], MappedRows]:
    """The keys and vectors of a cache file. Raises OSError, ValueError or KeyError for a
    file that is not one."""
    try:
        with zipfile.ZipFile(path) as archive:
            keys = np.load(archive.open("keys.npy"))
            info = archive.getinfo("vectors.npy")
    except (zipfile.BadZipFile, EOFError) as exc:  # not a zip, or a truncated one
        raise ValueError(f"not an embedding cache file: {exc}") from exc
    if keys.ndim != 2 or keys.shape[1] != KEY_BYTES or keys.dtype != np.uint8:
        raise ValueError("the keys are not 16-byte digests")
    raw = keys.tobytes()
    digests = [raw[at : at + KEY_BYTES] for at in range(0, len(raw), KEY_BYTES)]
    vectors = _mapped(path, info)
    if vectors is None:  # compressed, or an unusual layout: read it whole
        with np.load(path) as data:
            vectors = MappedRows(np.ascontiguousarray(data["vectors"], dtype=np.float32))
    if len(vectors) != len(digests):
        raise ValueError("the file holds more keys than vectors, or fewer")
    return digests, vectors


def file_identity(path: Path) -> tuple[int, ...]:
    """Which file `path` is now: a fold replaces the cache file with a new one (a new inode;
    the old one stays mapped by its readers, so its number is not reused meanwhile)."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _mapped(path: Path, info: zipfile.ZipInfo) -> MappedRows | None:
    """The `vectors` member mapped in place, or None when it cannot be (compressed, not
    float32 rows)."""
    with path.open("rb") as file:
        found = _member(file, info)
        if found is None:
            return None
        offset, shape, dtype = found
        if dtype != np.dtype("<f4") or len(shape) != 2:
            return None
        if shape[0] == 0:
            return MappedRows(np.zeros(shape, dtype=np.float32))
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    count = shape[0] * shape[1]
    rows = np.frombuffer(mapping, dtype="<f4", count=count, offset=offset).reshape(shape)
    return MappedRows(rows, mapping)


def map_arrays(path: Path, names: Sequence[str]) -> tuple[dict[str, np.ndarray], mmap.mmap]:
    """The arrays `names` (`name`.npy members, stored uncompressed, as np.savez writes them)
    of the .npz file at `path`, read-only views of one mapping of the file (returned with
    them: `madvise` hands their pages back). Raises OSError, ValueError or KeyError for a
    file that does not hold them so."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [archive.getinfo(f"{name}.npy") for name in names]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"not an .npz file: {exc}") from exc
    with path.open("rb") as file:
        found = [_member(file, info) for info in infos]
        if any(f is None for f in found):
            raise ValueError("a member is compressed or not an array")
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    arrays = {}
    for name, (offset, shape, dtype) in zip(names, filter(None, found), strict=True):
        count = int(np.prod(shape))
        if offset + count * dtype.itemsize > len(mapping):
            raise ValueError(f"{name} is cut short")
        array = np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)
        arrays[name] = array.reshape(shape)
    return arrays, mapping


def _member(file: BinaryIO, info: zipfile.ZipInfo) -> tuple[int, tuple[int, ...], np.dtype] | None:
    """Where the array of an .npy member starts in the file, its shape and type; None when
    it cannot be read in place (compressed, Fortran order, objects, another .npy version)."""
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    file.seek(info.header_offset)
    local = file.read(_LOCAL_HEADER.size)
    if len(local) != _LOCAL_HEADER.size:
        return None
    header = _LOCAL_HEADER.unpack(local)
    if header[0] != b"PK\x03\x04":
        return None
    file.seek(info.header_offset + _LOCAL_HEADER.size + header[-2] + header[-1])
    version = npy.read_magic(file)
    if version == (1, 0):
        shape, fortran, dtype = npy.read_array_header_1_0(file)
    elif version == (2, 0):
        shape, fortran, dtype = npy.read_array_header_2_0(file)
    else:
        return None
    if fortran or dtype.hasobject:
        return None
    return file.tell(), tuple(shape), dtype


def write_rows(
    path: Path | BinaryIO,
    keys: Sequence[bytes],
    rows: np.ndarray,
    mapped: MappedRows,
    added: list[Array],
) -> None:
    """Write a cache file (at `path`, or to a seekable binary file) of `keys`, key i's
    vector being row rows[i] of `mapped` followed by `added` (rows past the mapped ones
    index `added`)."""
    size = mapped.rows.shape[1] if len(mapped) else (len(added[0]) if added else 0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open("keys.npy", "w", force_zip64=True) as out:
            digests = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, KEY_BYTES)
            npy.write_array(out, digests)
        with archive.open("vectors.npy", "w", force_zip64=True) as out:
            shape = (len(keys), size)
            npy.write_array_header_1_0(
                out, {"descr": "<f4", "fortran_order": False, "shape": shape}
            )
            for at in range(0, len(keys), _SLICE):
                part = rows[at : at + _SLICE]
                chunk = np.empty((len(part), size), dtype="<f4")
                in_file = part < len(mapped)
                if in_file.any():
                    chunk[in_file] = mapped.rows[part[in_file]]
                if not in_file.all():
                    at_added = np.flatnonzero(~in_file)
                    picked = (part[at_added] - len(mapped)).tolist()
                    chunk[at_added] = np.stack([added[i] for i in picked])
                out.write(chunk.tobytes())
            mapped.release()
