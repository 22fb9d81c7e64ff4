"""The cosine scan every semantic select pays: the request's vector against every distinct text
vector of the catalog. It is memory-bound (10,000 generated tools: 50,448 x 384 float32, 77 MB
read per request): `np.einsum` takes 4.4-6.0 ms of CPU for it on this project's 2-core VM (a
BLAS `@` is no faster on one thread and wakes OpenBLAS's threads, which spin after the call and
take the second core from the next request's encoding).

So a large catalog is scanned in tiers that give the same answers:
- `approximate`: the matrix's rows in int8 (one code per dimension and one scale per row),
  multiplied with the request quantised on two levels by ONNX Runtime's MatMulInteger on a
  one-thread session that packed the matrix once, with a bound on how far any cosine may be
  off (about 0.01, derived below). It reads 384 bytes a row: half of what session 8's pass,
  which read the second level of every row too, read.
- `Cosines.finer`: for the rows of the tools that bound leaves in doubt (fusion.fuse
  decides which), the codes of what the first level leaves out (a second int8 level, gathered
  by row): a bound about 100 times tighter (about 1e-4);
- `exact`: float32 cosines (einsum over the chosen rows: bit for bit what the full scan gives
  them) for the few tools even that bound leaves in doubt.
Catalogs under INT8_MIN_ROWS distinct texts (the starter's 1,900: 0.1 ms) and any catalog
without onnxruntime are scanned exactly in one pass (`approximate` then answers with a bound
of 0).

The bound: write a row m = m' + r (m' what the levels read hold, r the rest) and the request
q = q' + f likewise; the computed q'.m' differs from q.m by q'.r + f.m' + f.r, at most
|q'| |r| + |f| |m'| + |f| |r| (Cauchy-Schwarz, every norm known: per row at build, per request
at scan), plus the float32 rounding of the exact dot product (at most d 2^-24 |q| |m|).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.catalog.heap import release_free_memory
from toolcatalog.selection.arrays import copy_rows
from toolcatalog.selection.encoders.onnx import onnx_available
from toolcatalog.selection.int8_graphs import (
    ROW_ZERO_POINT,
    ZERO_POINT,
    first_level_session,
    second_level_session,
)
from toolcatalog.selection.scan_file import Int8Levels, levels_key, parts_key, written_levels

Vector = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int8]
# Below this many rows the exact scan (~2 ms of CPU at 20,000) costs no more than the int8
# pass and settling the tools in doubt: 6,608 terse tools (13,216 rows) measured alike both
# ways, select CPU p50 7.5 ms; at 50,448 rows the int8 pass is 2.2-2.5 ms against 5.2-5.4.
INT8_MIN_ROWS = 20_000
_ROW_TOP = 127
_QUERY_TOP = 63
# Rows whose levels are computed at a time (int8_levels): the float64 work arrays of 512 rows
# (1.5 MiB each) are made once a build and stay in the CPU's cache, where those of 4,096 rows
# (12.6 MiB, a fresh mapping each, ~40 a slice) were read from memory and faulted in again
# per slice: a start's levels at 100,000 generated tools were ~2/3 of its `vectors` step.
_BUILD_ROWS = 512
# Chosen rows are read (the exact tier's copy, the second level's gather) this many at a time:
# a request with many tools in doubt (the whole catalog, at worst) then holds a few MB of
# copies rather than its rows' share of the matrix, and ONNX Runtime's arena, which keeps the
# largest run's buffers for the process's life, stays that small (all 600,000 rows of
# 100,000 tools gathered at once: ~300 MB held after one such request).
_READ_ROWS = 4096
# Rows of a mapped file read (by the exact tier and the second level) before its pages are
# handed back, so that a worker's resident memory holds a bounded part of the file however
# many requests read it (the kernel maps up to 16 pages around each page read: at most
# ~0.25 GB at once, usually far less). The release costs ~0.7 us of CPU a row read (3.7 ms
# for 5,000 rows at 100,000 tools) and runs beside the request.
RELEASE_ROWS = 2000
# And at most once a second: selects that fall back to the whole exact scan read every row,
# and releasing after each (8 threads at 100,000 tools) took 2-3x the wall time of the scans
# from the heap (the faults and the TLB flushes queue); a second's reads stay resident.
RELEASE_EVERY_S = 1.0
# And once no row was read for this long, whatever was read since the last release: without
# it the pages of the last requests stayed resident once they stopped (a whole exact scan
# read within the second before: the whole matrix, 879 MiB at 100,000 tools). The C
# allocator's free pages go back then too: the selects' temporaries (numpy arrays of a
# select thread's malloc arena) left 54 MiB free but mapped after bench/scale.py's runs at
# 100,000 tools (malloc_trim: ~6 ms of CPU with ~1 GB of small blocks, ~0 with nothing free).
RELEASE_IDLE_S = 1.0
# The session computes in float32: the scale products and the sums of each cosine (terms of
# magnitude at most 1) round by a few units of 2^-24 (6e-8) each.
_FLOAT_SLACK = 2e-6


class Cosines:
    """One request's cosines of every row (`sims`), each within `bound` of the exact one;
    `finer(rows)` gives those of `rows` within `fine_bound` (at most `bound`)."""

    def __init__(
        self,
        sims: Vector,
        bound: float,
        fine_bound: float | None = None,
        finer: Callable[[Rows], Vector] | None = None,
    ) -> None:
        self.sims = sims
        self.bound = bound
        self.fine_bound = bound if fine_bound is None else fine_bound
        self._finer = finer

    def finer(self, rows: Rows) -> Vector:
        """The cosines of `rows`, within `fine_bound`."""
        if self._finer is None:
            return self.sims[rows]
        return self._finer(rows)


class CosineScan:
    """Dot products of a request's vector with each row of `vectors` (unit rows: cosines).
    Thread-safe."""

    _int8: _Int8Product | None

    def __init__(
        self,
        vectors: Vector,
        use_int8: bool | None = None,
        previous: CosineScan | None = None,
        taken: tuple[Rows, Rows] | None = None,
        saved: Int8Levels | None = None,
    ) -> None:
        """`use_int8`: force (True) or forbid (False) the int8 pass; by default it is used
        for INT8_MIN_ROWS rows or more when onnxruntime is installed. `taken`: rows of
        `vectors` that are `previous`'s rows (here, there), whose int8 levels are copied
        from it rather than computed again (a write's few new texts are the rest). `saved`:
        the levels of `vectors` as `levels()` gave them (ignored when they do not fit). The
        first level's parts whose codes and scales are `previous`'s share its sessions."""
        self.rows = len(vectors)
        if saved is not None and not saved.fits(*vectors.shape):
            saved = None
        # Levels read from a file come with their matrix, mapped: the same bits as `vectors`
        # (scan_file.py's digest), held by the file rather than by this process.
        kept = None if saved is None else saved.matrix
        self._matrix: Vector = np.ascontiguousarray(vectors) if kept is None else kept
        self._mapped = saved if kept is not None else None
        self._touched = 0  # rows read from the mapping since its pages were last released
        self._released_at = 0.0
        self._touched_at = 0.0  # when rows were last read from it
        self._idle: threading.Timer | None = None  # the release once reads stop (_settle)
        self._touch_lock = threading.Lock()
        if use_int8 is None:
            use_int8 = uses_int8(self.rows)
        self._int8 = None
        if use_int8 and self.rows:
            if saved is None:
                before = None
                if previous is not None and previous._int8 is not None and taken is not None:
                    before = previous._int8.levels()
                saved = int8_levels(self._matrix, before, taken)
                if previous is not None:
                    previous.release()
            sharing = None if previous is None else previous._int8
            self._int8 = _Int8Product(saved, _weakly(self._touch), sharing)

    def keep(self, path: Path) -> bool:
        """Write the int8 pass's levels and the matrix to `path` (scan_file.py) and read them
        from there from now on, as a scan made from the file reads them: the same bits, no
        longer in this process's memory (a write's scan, derived from the previous one, holds
        its matrix and levels in the heap: 1.3 GB at 100,000 generated tools). A request
        under way keeps the product it took. Whether the scan now reads the file."""
        if self._int8 is None or self._mapped is not None:
            return self._mapped is not None
        matrix = self._matrix

        def rows(start: int, stop: int) -> tuple[Vector, tuple[Rows, Rows]]:
            return matrix[start:stop], (np.arange(stop - start), np.arange(start, stop))

        saved = levels_in_parts(path, matrix.shape, rows, self, levels_key(matrix))
        if saved is None or saved.matrix is None:  # not written or read: the scan stays as it is
            return False
        product = _Int8Product(saved, _weakly(self._touch), self._int8)  # its sessions
        self._matrix, self._mapped, self._int8 = saved.matrix, saved, product
        return True

    def release(self) -> None:
        """Hand back the pages of the mapped file read so far (scan_file.Int8Levels)."""
        if self._mapped is not None:
            self._mapped.release()

    def _touch(self, rows: int) -> None:
        """Count `rows` rows read from the mapping (each a page or two of the matrix and one of
        the second level); past RELEASE_ROWS, hand the pages back, so a worker's resident
        memory holds no more than that of the file however many requests read it."""
        if self._mapped is None:
            return
        now = time.monotonic()
        with self._touch_lock:
            self._touched += rows
            self._touched_at = now
            if self._touched >= RELEASE_ROWS and now - self._released_at >= RELEASE_EVERY_S:
                self._touched, self._released_at = 0, now
                # Beside the request: the release waits on the other CPUs (Int8Levels.release).
                threading.Thread(target=self.release, name="toolcatalog-release").start()
            elif self._touched and self._idle is None:
                self._arm(RELEASE_IDLE_S)

    def _arm(self, delay: float) -> None:
        """Run `_settle` in `delay` seconds (the touch lock held)."""
        self._idle = threading.Timer(delay, _weakly(self._settle))
        self._idle.name, self._idle.daemon = "toolcatalog-release-idle", True
        self._idle.start()

    def _settle(self) -> None:
        """Hand back the pages read since the last release once no row was read for
        RELEASE_IDLE_S (a timer's thread; armed again while reads go on), so that a worker
        which stops serving does not keep the last requests' pages, nor the free memory
        their temporaries left in the C allocator's heaps."""
        with self._touch_lock:
            self._idle = None
            if not self._touched:
                return
            now = time.monotonic()
            waited = now - self._touched_at
            if waited < RELEASE_IDLE_S:
                self._arm(RELEASE_IDLE_S - waited)
                return
            self._touched, self._released_at = 0, now
        self.release()
        release_free_memory()

    def levels(self) -> Int8Levels | None:
        """The int8 pass's levels (None without it), to be kept and given back as `saved`."""
        return None if self._int8 is None else self._int8.levels()

    @property
    def matrix(self) -> Vector:
        """The rows scanned (read only: a later index reuses them)."""
        return self._matrix

    @property
    def approximates(self) -> bool:
        """Whether `approximate` answers with the int8 pass (a bound above 0)."""
        return self._int8 is not None

    def exact(self, query: Vector, rows: Rows | None = None) -> Vector:
        """Exact cosines of every row, or of `rows` (the same bits either way)."""
        if rows is None:
            out: Vector = np.einsum("ij,j->i", self._matrix, query)
        else:
            out = np.empty(len(rows), dtype=np.float32)
            for at in range(0, len(rows), _READ_ROWS):
                part = rows[at : at + _READ_ROWS]
                out[at : at + len(part)] = np.einsum("ij,j->i", self._matrix[part], query)
        self._touch(self.rows if rows is None else len(rows))
        return out

    def approximate(self, query: Vector) -> Cosines:
        """Every row's cosine within a bound (0 when exact), and finer ones on demand."""
        if self._int8 is None:
            return Cosines(self.exact(query), 0.0)
        return self._int8(query)


# Rows of a scan written to its levels file at a time (levels_in_parts): what the heap holds
# of the scan being written is this many rows and their levels (~20 MB at 384 dimensions,
# and int8_levels' float64 slices), not the whole matrix and levels (1.2 GB at 100,000
# generated tools).
PART_ROWS = 8192
# The previous scan's pages read while writing (its mapped file's) are handed back every
# this many parts: a compaction reads all of that file.
_RELEASE_PARTS = 4
# A part's rows, with those of the previous scan they are (levels_in_parts).
_Part = tuple[Vector, tuple[Rows, Rows] | None]


def levels_in_parts(
    path: Path,
    shape: tuple[int, int],
    rows: Callable[[int, int], tuple[Vector, tuple[Rows, Rows] | None]],
    previous: CosineScan | None = None,
    key: str | None = None,
) -> Int8Levels | None:
    """The levels of the matrix of `shape` whose rows `rows(start, stop)` gives, with the
    rows of `previous` they are (here, in the part; there), whose levels are copied from it
    rather than computed (the same bits): read from the levels file `path` when it holds
    them (`key`: levels_key of the matrix, computed from the parts when not given: in a pass
    of its own when there is a `previous`, as another worker may have kept them; without one,
    a start's, whose caller found no such file, as they are written), else written there
    PART_ROWS rows at a time; mapped from there with the matrix. None when the file could not
    be written or read (scan_file.written_levels)."""
    spans = [(start, min(start + PART_ROWS, shape[0])) for start in range(0, shape[0], PART_ROWS)]

    def released(parts: Iterator[_Part]) -> Iterator[_Part]:
        for number, part in enumerate(parts):
            yield part
            if previous is not None and number % _RELEASE_PARTS == _RELEASE_PARTS - 1:
                previous.release()  # the pages read so far, when its rows are mapped
        if previous is not None:
            previous.release()

    if key is None and previous is not None:  # a pass that reads the rows alone
        key = parts_key(shape, (matrix for matrix, _taken in released(rows(*s) for s in spans)))
    before = None if previous is None else previous.levels()

    def parts() -> Iterator[tuple[int, Vector, Int8Levels]]:
        for (start, _stop), (matrix, taken) in zip(
            spans, released(rows(*s) for s in spans), strict=True
        ):
            yield start, matrix, int8_levels(matrix, before, taken)

    saved = written_levels(path, shape, key, parts)
    return None if saved is None or saved.matrix is None else saved


def _weakly(method: Callable[..., None]) -> Callable[..., None]:
    """`method` (a scan's bound method) without a reference to its scan: what the scan holds
    (its product, its idle timer) must not hold the scan. Such a cycle is freed by the cyclic
    collector alone, and once frozen (heap.frozen_heap, a start's gc.freeze) never: the scan
    a write's delta or compaction replaced kept its first level's session (~400 MiB
    anonymous at 100,000 generated tools) for the life of the worker. A call after the
    scan is gone does nothing."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        alive = ref()
        if alive is not None:
            alive(*args)

    return call


def uses_int8(rows: int) -> bool:
    """Whether a scan of `rows` rows takes the int8 pass by default."""
    return rows >= INT8_MIN_ROWS and onnx_available()


def _levels(values: Floats, top: int = _ROW_TOP) -> tuple[Floats, Floats, Floats, Floats]:
    """Two int8 levels of each row of `values` (codes -top..top): codes and scales of the row,
    codes and scales of what the first leaves out."""
    codes, scales = _level(values, top)
    rest = values - codes * scales[:, None]
    fine, fine_scales = _level(rest, top)
    return codes, scales, fine, fine_scales


def _level(values: Floats, top: int) -> tuple[Floats, Floats]:
    codes = np.empty_like(values)
    return codes, _level_into(values, top, codes, np.empty_like(values))


# The rows of Int8Levels.norms: per row, the norm of the row, of what the first level holds
# and leaves out, and of what both levels hold and leave out.
_NORM, _HELD, _REST, _FINE_HELD, _FINE_REST = range(5)


def int8_levels(
    matrix: Vector, previous: Int8Levels | None = None, taken: tuple[Rows, Rows] | None = None
) -> Int8Levels:
    """The levels and norms of `matrix`'s rows. Each row's depend on that row alone: those of
    the rows `taken` from `previous` (here, there) are copied, the others' computed (the
    same bits)."""
    size, dimensions = matrix.shape
    codes_t = np.empty((dimensions, size), dtype=np.int8)  # packed by MLAS
    fine_rows = np.empty((size, dimensions), dtype=np.uint8)  # gathered
    levels = Int8Levels(codes_t, fine_rows, np.empty(size), np.empty(size), np.zeros((5, size)))
    fresh: Rows | None = None  # every row
    if previous is not None and taken is not None and len(taken[0]):
        here, there = taken
        # By runs of rows (a write keeps them in order): a gather of every column of the
        # transposed codes took 3.2 s of a write at 100,000 generated tools.
        copy_rows(codes_t.T, here, previous.codes_t.T, there)
        copy_rows(fine_rows, here, previous.fine_rows, there)
        copy_rows(levels.scales, here, previous.scales, there)
        copy_rows(levels.fine_scales, here, previous.fine_scales, there)
        copy_rows(levels.norms.T, here, previous.norms.T, there)
        left = np.ones(size, dtype=bool)
        left[here] = False
        fresh = np.flatnonzero(left)
    work = _Work(min(size, _BUILD_ROWS), dimensions)
    for at in range(0, size if fresh is None else len(fresh), _BUILD_ROWS):
        end = at + _BUILD_ROWS
        _fill(levels, matrix, slice(at, min(end, size)) if fresh is None else fresh[at:end], work)
    return levels


class _Work:
    """The float64 arrays `_fill` computes a part's levels in, reused part after part."""

    def __init__(self, rows: int, dimensions: int) -> None:
        self.arrays = [np.empty((rows, dimensions)) for _ in range(5)]

    def of(self, rows: int) -> list[Floats]:
        """The arrays' first `rows` rows (each a contiguous view)."""
        return [array[:rows] for array in self.arrays]


def _fill(levels: Int8Levels, matrix: Vector, part: Rows | slice, work: _Work) -> None:
    """The levels and norms of rows `part` of `matrix`: `_levels` of the rows and the norms
    of what each level holds and leaves out, computed in `work`'s arrays with the same
    operations in the same order, so the same bits as `_levels` and `np.linalg.norm` (whose
    row norm is sqrt(add.reduce(x * x, axis=1)); test_cosine_scan compares them)."""
    rows = matrix[part]
    values, first, rest, fine, scratch = work.of(len(rows))
    norms = levels.norms
    values[...] = rows  # float32 to float64: exact, as astype
    scales = _level_into(values, _ROW_TOP, first, scratch)
    levels.codes_t[:, part] = first.T
    levels.scales[part] = scales
    np.multiply(first, scales[:, None], out=first)  # codes * scales: what the first level holds
    np.subtract(values, first, out=rest)  # what it leaves out
    norms[_HELD, part] = _row_norms(first, scratch)
    norms[_REST, part] = _row_norms(rest, scratch)
    fine_scales = _level_into(rest, _ROW_TOP, fine, scratch)
    levels.fine_scales[part] = fine_scales
    np.multiply(fine, fine_scales[:, None], out=rest)
    np.add(first, rest, out=first)  # what both levels hold
    norms[_FINE_HELD, part] = _row_norms(first, scratch)
    np.subtract(values, first, out=first)  # what they leave out
    norms[_FINE_REST, part] = _row_norms(first, scratch)
    norms[_NORM, part] = _row_norms(values, scratch)
    np.add(fine, ROW_ZERO_POINT, out=fine)
    levels.fine_rows[part] = fine


def _level_into(values: Floats, top: int, codes: Floats, scratch: Floats) -> Floats:
    """`_level(values, top)` with its codes written to `codes` (`scratch`: work space of
    `values`' shape); returns the scales."""
    np.abs(values, out=scratch)
    peak = np.maximum.reduce(scratch, axis=1)
    scales: Floats = np.where(peak > 0, peak / top, 1.0)
    np.divide(values, scales[:, None], out=codes)
    np.rint(codes, out=codes)
    np.clip(codes, -top, top, out=codes)
    return scales


def _row_norms(values: Floats, scratch: Floats) -> Floats:
    """np.linalg.norm(values, axis=1), bit for bit, its square in `scratch`."""
    np.multiply(values, values, out=scratch)
    out: Floats = np.sqrt(np.add.reduce(scratch, axis=1))
    return out


class _Int8Product:
    """The matrix's rows in two int8 levels: the first scanned whole on ONNX Runtime, the
    second gathered by row for the rows asked for."""

    def __init__(
        self, levels: Int8Levels, touch: Callable[[int], None], before: _Int8Product | None = None
    ) -> None:
        """`touch(n)` is told of every n rows of the second level read; the first level's
        parts whose codes and scales are those of `before`'s part of the same rows share
        its session (`session_of`)."""
        self.size, dimensions = levels.fine_rows.shape
        self._levels = levels
        self._touch = touch
        rounding = dimensions * 2.0**-24 * 1.01  # float32 dot product, relative
        self._coarse = self._bounds(levels.norms, rounding, fine=False)
        self._fine = self._bounds(levels.norms, rounding, fine=True)
        # The codes reach the sessions as external initializers: MLAS packs them once (a
        # copy of their size) and reads nothing else of them. Inside the model, as
        # session 15's build put them, ONNX Runtime held ~3.4x the codes (the model's bytes,
        # its initializer, the packed copy): 1.2 GB at 100,000 tools.
        self._sessions = _first_level_sessions(levels, before)
        # The second level's rows are fed per request (no copy: ONNX Runtime reads the
        # array), so its session depends on the dimensions alone and is made once.
        self._fine_feed = {"m": levels.fine_rows, "scales": levels.fine_scales.astype(np.float32)}
        self._fine_session = second_level_session(dimensions)

    def levels(self) -> Int8Levels:
        """The levels and norms of every row (cosine_scan's arrays, not copies)."""
        return self._levels

    def session_of(self, start: int, stop: int, codes: Codes, scales: Floats) -> Any | None:
        """This product's first-level session of rows `start` to `stop` when their codes and
        scales are `codes` and `scales` (a session is made of nothing else: the same bits),
        else None. A compaction after a one-tool write changes one part of ten at 100,000
        generated tools: the others' sessions (their packed codes, ~24 MiB each) are shared
        instead of packed again beside the old ones."""
        firsts = [first for first, _session in self._sessions]
        stops = dict(zip(firsts, [*firsts[1:], self.size], strict=True))
        session = dict(self._sessions).get(start) if stops.get(start) == stop else None
        if session is None:
            return None
        mine = self._levels
        same = np.array_equal(mine.scales[start:stop], scales) and all(
            np.array_equal(mine.codes_t[at, start:stop], codes[at]) for at in range(len(codes))
        )
        mine.release()  # the pages of its codes read, when mapped
        return session if same else None

    @staticmethod
    def _bounds(norms: Floats, rounding: float, fine: bool) -> tuple[float, float, float]:
        """Per request only maxima are needed: the bound is taken over every row at once."""
        held = norms[_FINE_HELD if fine else _HELD]
        rest = norms[_FINE_REST if fine else _REST]
        return (
            float(rest.max(initial=0.0)),
            float(held.max(initial=0.0)),
            rounding * float(norms[_NORM].max(initial=0.0)),
        )

    def __call__(self, query: Vector) -> Cosines:
        q = query.astype(np.float64).reshape(1, -1)
        codes, scales, fine, fine_scales = _levels(q, _QUERY_TOP)
        held = codes * scales[:, None] + fine * fine_scales[:, None]
        pair = np.concatenate([codes, fine])
        sent = (pair + ZERO_POINT).astype(np.uint8)
        steps = np.array([[scales[0], fine_scales[0]]], dtype=np.float32)
        sims = _first_level_run(self._sessions, self.size, {"q": sent, "steps": steps})
        held_norm = float(np.linalg.norm(held))
        rest_norm = float(np.linalg.norm(q - held))
        norm = float(np.linalg.norm(q))

        def bound(most: tuple[float, float, float]) -> float:
            most_rest, most_held, rounding = most
            off = held_norm * most_rest + rest_norm * (most_held + most_rest) + norm * rounding
            return off + _FLOAT_SLACK

        columns = pair.T.astype(np.int8)
        column_steps = steps.reshape(2, 1)

        def finer(rows: Rows) -> Vector:
            if not len(rows):
                return np.zeros(0, dtype=np.float32)
            out: Vector = sims[rows]
            feed = {"q": columns, "steps": column_steps, **self._fine_feed}
            for at in range(0, len(rows), _READ_ROWS):
                part = rows[at : at + _READ_ROWS].astype(np.int64)
                out[at : at + len(part)] += self._fine_session.run(["s"], feed | {"rows": part})[0]
            self._touch(len(rows))
            return out

        return Cosines(sims, bound(self._coarse), bound(self._fine), finer)


# The first level's rows packed by one session. ONNX Runtime, making a session, copies the
# codes it is given and packs that copy (the copy freed once packed), and the codes' file
# pages are read meanwhile: the whole first level in one session rose ~3x the codes over
# what it keeps (at 100,000 generated tools ~0.45 GB over serving at a restart, and beside
# the old session at a compaction after writes). Made 32,768 rows (12 MiB of codes at 384
# dimensions) at a time, with their pages handed back after each, the rise is that of one
# part (600,000 rows: +91 MiB over what is kept with 65,536, +55 with 32,768, the restart's
# top at 100,000 tools); a request runs one session a part (~20 us each: 19 parts), the
# same bits (MatMulInteger's sums are exact, and each output of the float MatMul is its
# column's alone: test_cosine_scan).
PACK_ROWS = 32_768
# No part of fewer rows (but a whole of fewer): a session of one row computes its float MatMul
# another way (its last bits differed from the whole's for 100 of 5,000 one-row parts).
_PACK_TAIL = 16


def _first_level_sessions(
    levels: Int8Levels, before: _Int8Product | None = None
) -> list[tuple[int, Any]]:
    """The first level's sessions, one per PACK_ROWS rows of `levels` (the first row of each,
    its session), each made after the previous one's codes were packed and their pages, when
    mapped, handed back; or `before`'s session of the same part, codes and scales."""
    size = levels.codes_t.shape[1]
    starts = list(range(0, size, PACK_ROWS))
    if len(starts) > 1 and size - starts[-1] < _PACK_TAIL:
        starts.pop()  # the last few rows join the part before
    sessions = []
    for start, stop in zip(starts, [*starts[1:], size], strict=True):
        codes, scales = levels.codes_t[:, start:stop], levels.scales[start:stop]
        session = None if before is None else before.session_of(start, stop, codes, scales)
        made = session is None
        sessions.append((start, first_level_session(codes, scales) if made else session))
        levels.release()  # the codes' pages, when mapped: packed, they are not read again
        if made and size > PACK_ROWS:
            # The copy ONNX Runtime packed from, freed: glibc's heap keeps a part's (under its
            # 32 MiB mmap threshold) unless trimmed, and the next part's went beside it
            # (600,000 rows: +448 MiB kept for 220 MiB of codes, +228 trimmed).
            release_free_memory()
    return sessions


def _first_level_run(sessions: list[tuple[int, Any]], size: int, feed: dict[str, Any]) -> Vector:
    """The first level's cosines of all `size` rows, a session's part at a time."""
    if len(sessions) == 1:
        whole: Vector = sessions[0][1].run(["s"], feed)[0]
        return whole
    sims = np.empty(size, dtype=np.float32)
    for start, session in sessions:
        part = session.run(["s"], feed)[0]
        sims[start : start + len(part)] = part
    return sims
