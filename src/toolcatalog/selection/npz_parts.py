"""An uncompressed .npz (what np.savez writes; np.load and cache_file.map_arrays read it)
written in parts: every array's type and shape are given first, so each array's bytes have
their place in the file, and the caller writes any part of any array, in any order, a few MB
at a time (`NpzParts.write`). A compaction of the int8 scan then never holds a whole array:
at 100,000 generated tools its 768 MB matrix and ~400 MB of levels were built in the heap
and then written (~4.9 GB RSS for a few seconds, against ~2.1 GB serving). Each array starts
at a multiple of 64 bytes in the file: a mapping of the file gives aligned arrays (numpy
reads unaligned float32 rows at about half speed: an exact scan of 600,000 rows took 56 ms
instead of 31 from np.savez's file).

The writes go to the file (os.pwrite: the page cache, not this process's memory). A
member's CRC-32 is computed from its bytes as they are written when they come in order from
its start, else read back from the file once at `close` (8 MB at a time)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.lib.format as npy

# zipfile's own structures (Lib/zipfile.py): a member's local header, its central directory
# entry, and the zip64 end records (the arrays pass 4 GB at 100,000 tools' and more rows).
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")
_PAD = struct.Struct("<2H")  # an extra field's id and size
_PAD_ID = 0xD935  # the id Android's zipalign gives its padding; readers skip unknown ids
_ZIP64 = struct.Struct("<2H2Q")  # the local header's zip64 extra field: both sizes
_ZIP64_CENTRAL = struct.Struct("<2H3Q")  # the central entry's: both sizes and the offset
_VERSION = 45  # zip64
_UNIX = 3
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, as zipfile writes date_time (1980, 1, 1, 0, 0, 0)
_MORE = 0xFFFFFFFF  # this field is in the zip64 extra field
_READ_BACK = 8 << 20


@dataclass
class _Member:
    name: bytes  # "<array>.npy"
    at: int  # its local header's offset
    extra: bytes  # the local header's extra fields: padding, then zip64
    header: bytes  # the .npy header
    data_at: int  # where the array's bytes start
    nbytes: int
    crc: int = 0  # of the header and the first `ordered` bytes of the array
    ordered: int = 0  # bytes written in order from the array's start
    in_order: bool = True

    @property
    def size(self) -> int:
        return len(self.header) + self.nbytes


class NpzParts:
    """An .npz of the arrays `layout` names (type and shape each, C order) written to the
    file descriptor `fd` (a new, empty, seekable file) in parts: `write` each array's bytes,
    then `close` writes the headers and the zip's directory. Raises OSError as the writes
    do; a file not closed is not an .npz (replace_atomically's temporary, thrown away)."""

    def __init__(self, fd: int, layout: dict[str, tuple[np.dtype[Any], tuple[int, ...]]]) -> None:
        self._fd = fd
        self._members: dict[str, _Member] = {}
        at = 0
        for name, (dtype, shape) in layout.items():
            header = io.BytesIO()
            descr = {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
            npy.write_array_header_1_0(header, descr)  # padded to a multiple of 64 bytes
            encoded = f"{name}.npy".encode()
            start = at + _LOCAL.size + len(encoded) + _PAD.size + _ZIP64.size
            padding = -start % 64
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            extra = _PAD.pack(_PAD_ID, padding) + bytes(padding)
            data_at = start + padding + len(header.getvalue())
            extra += _ZIP64.pack(1, 16, len(header.getvalue()) + nbytes, 0)  # sizes: close
            self._members[name] = _Member(encoded, at, extra, header.getvalue(), data_at, nbytes)
            self._members[name].crc = zlib.crc32(header.getvalue())
            at = data_at + nbytes
        self._end = at
        # Sized first: parts written past the end (the codes' columns) each extended the
        # file, 3x the time of writes into a file of its size (200,000 rows: 0.89 -> 0.28 s).
        os.ftruncate(fd, at)

    def write(self, name: str, data: np.ndarray, at: int = 0) -> None:
        """Write `data`'s bytes (C order) at byte `at` of array `name`'s bytes."""
        member = self._members[name]
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8).data
        if at < 0 or at + len(raw) > member.nbytes:
            raise ValueError(f"{len(raw)} bytes at {at} do not fit in {name} ({member.nbytes})")
        _pwrite(self._fd, raw, member.data_at + at)
        if member.in_order and at == member.ordered:
            member.crc = zlib.crc32(raw, member.crc)
            member.ordered += len(raw)
        else:
            member.in_order = False

    def close(self) -> None:
        """Write every member's local header (with its CRC) and the zip's directory."""
        directory = []
        for member in self._members.values():
            if not member.in_order or member.ordered != member.nbytes:
                member.crc = self._read_crc(member)
            size = _ZIP64.pack(1, 16, member.size, member.size)
            extra = member.extra[: -_ZIP64.size] + size
            local = _LOCAL.pack(
                b"PK\x03\x04", _VERSION, 0, 0, 0, 0, _DOS_DATE, member.crc, _MORE, _MORE,
                len(member.name), len(extra),
            )  # fmt: skip
            _pwrite(self._fd, memoryview(local + member.name + extra + member.header), member.at)
            zip64 = _ZIP64_CENTRAL.pack(1, 24, member.size, member.size, member.at)
            entry = _CENTRAL.pack(
                b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, 0, 0, 0, _DOS_DATE, member.crc,
                _MORE, _MORE, len(member.name), len(zip64), 0, 0, 0, 0, _MORE,
            )  # fmt: skip
            directory.append(entry + member.name + zip64)
        listed = b"".join(directory)
        count, end64_at = len(directory), self._end + len(listed)
        end64 = _END64.pack(
            b"PK\x06\x06", _END64.size - 12, _VERSION, _VERSION, 0, 0, count, count,
            len(listed), self._end,
        )  # fmt: skip
        locator = _LOCATOR64.pack(b"PK\x06\x07", 0, end64_at, 1)
        end = _END.pack(b"PK\x05\x06", 0, 0, count, count, len(listed), _MORE, 0)
        _pwrite(self._fd, memoryview(listed + end64 + locator + end), self._end)

    def _read_crc(self, member: _Member) -> int:
        crc = zlib.crc32(member.header)
        buffer = bytearray(min(_READ_BACK, member.nbytes))
        for at in range(0, member.nbytes, _READ_BACK):
            part = memoryview(buffer)[: min(_READ_BACK, member.nbytes - at)]
            got = os.preadv(self._fd, [part], member.data_at + at)
            if got != len(part):
                raise OSError(f"{member.name.decode()} read back short: {got} of {len(part)}")
            crc = zlib.crc32(part, crc)
        return crc


def _pwrite(fd: int, raw: memoryview, at: int) -> None:
    while len(raw):
        done = os.pwrite(fd, raw, at)
        raw, at = raw[done:], at + done


def write_npz(fd: int, arrays: dict[str, np.ndarray]) -> None:
    """`arrays` whole as an .npz (NpzParts) to the new, empty file `fd`."""
    parts = NpzParts(fd, {name: (array.dtype, array.shape) for name, array in arrays.items()})
    for name, array in arrays.items():
        parts.write(name, array)
    parts.close()
