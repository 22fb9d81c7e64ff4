"""The int8 scan's levels are kept beside the embedding cache: a restart over the same rows
reads them (the same bits, so the same cosines and bounds), and other rows, a file cut short,
garbage or levels that do not fit are ignored and built again (and the file replaced)."""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.files import replace_atomically
from toolcatalog.selection import cosine_scan, scan_file, semantic_engine
from toolcatalog.selection import embedding_cache as cache_module
from toolcatalog.selection.calibrate import EXAMPLE_KIND, calibrate
from toolcatalog.selection.cosine_scan import CosineScan
from toolcatalog.selection.embedding_cache import EmbeddingCache
from toolcatalog.selection.npz_parts import write_npz
from toolcatalog.selection.scan_file import (
    Int8Levels,
    levels_key,
    levels_path,
    matching_levels,
    read_levels,
    write_levels,
)
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.text_vectors import TextLayout, TextVectors

from .stub_encoder import StubEncoder, seeded
from .test_calibration_file import _tools
from .test_cosine_scan import DIMENSIONS, needs_onnx, unit_rows


def _same_scans(got: CosineScan, want: CosineScan, matrix: np.ndarray) -> None:
    for k in range(3):
        noise = np.random.default_rng(40 + k).standard_normal(matrix.shape[1])
        query = matrix[k] + (noise / np.linalg.norm(noise)).astype(np.float32)
        query = (query / np.linalg.norm(query)).astype(np.float32)
        a, b = got.approximate(query), want.approximate(query)
        assert a.sims.tobytes() == b.sims.tobytes()
        assert (a.bound, a.fine_bound) == (b.bound, b.fine_bound)
        rows = np.arange(0, len(matrix), 5)
        assert a.finer(rows).tobytes() == b.finer(rows).tobytes()


def _parts(matrix: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """The rows of `matrix` a part at a time (TextVectors.of_distinct)."""
    return lambda start, stop: matrix[start:stop]


def _layout(count: int) -> tuple[TextLayout, list[str]]:
    layout = TextLayout.of([[(0, f"text {t}"), (1, f"text {t} again")] for t in range(count)])
    return layout, TextVectors.distinct(layout)


@needs_onnx
def test_levels_read_back_scan_as_the_levels_built(tmp_path: Path) -> None:
    matrix = unit_rows(3000, seed=21)
    built = CosineScan(matrix, use_int8=True)
    levels = built.levels()
    assert levels is not None
    path = tmp_path / "encoder.levels.npz"
    write_levels(path, levels_key(matrix), levels, matrix)
    read = read_levels(path, levels_key(matrix), matrix.shape)
    assert read is not None
    assert read.fits(3000, matrix.shape[1])
    # The codes, the second level and the rows are read in place, from the file's mapping.
    assert read.mapping is not None
    assert read.matrix is not None
    assert read.matrix.tobytes() == matrix.tobytes()
    for name in ("codes_t", "fine_rows", "matrix"):
        assert not getattr(read, name).flags.owndata, name
        assert getattr(read, name).ctypes.data % 64 == 0, name  # aligned: full-speed reads
    with np.load(path) as kept:  # still what numpy reads
        assert kept["matrix"].tobytes() == matrix.tobytes()
        assert kept["codes_t"].tobytes() == levels.codes_t.tobytes()
    scan = CosineScan(matrix, use_int8=True, saved=read)
    assert scan.matrix.base is not None
    assert not scan.matrix.flags.owndata
    _same_scans(scan, built, matrix)
    assert scan.exact(matrix[5]).tobytes() == built.exact(matrix[5]).tobytes()
    other = matrix.copy()
    other[7, 3] = np.nextafter(other[7, 3], np.float32(2))  # one bit of one row
    assert read_levels(path, levels_key(other), matrix.shape) is None
    assert CosineScan(matrix, use_int8=False).levels() is None


@needs_onnx
@pytest.mark.parametrize(
    "damage", ["garbage", "cut short", "empty", "an array", "levels of fewer rows"]
)
def test_a_damaged_levels_file_is_ignored_and_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    layout, texts = _layout(1000)
    matrix = unit_rows(len(texts), seed=22)
    path = tmp_path / "encoder.levels.npz"
    first = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS, path)
    written = path.read_bytes()
    # Replaced, as every writer of the home replaces it (files.replace_atomically): `first`
    # still reads the file it mapped.
    if damage == "garbage":
        replace_atomically(path, lambda out: out.write(b"not a zip at all" * 100))
    elif damage == "cut short":
        replace_atomically(path, lambda out: out.write(written[: len(written) // 2]))
    elif damage == "empty":
        replace_atomically(path, lambda out: out.write(b""))
    elif damage == "an array":
        replace_atomically(path, lambda out: np.save(out, matrix))
    else:  # the right key over levels of another size
        levels = first.scan.levels()
        assert levels is not None
        fewer = Int8Levels(
            levels.codes_t[:, :10],
            levels.fine_rows[:10],
            levels.scales[:10],
            levels.fine_scales[:10],
            levels.norms[:, :10],
        )
        write_levels(path, levels_key(matrix), fewer, matrix[:10])
    again = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS, path)
    _same_scans(again.scan, first.scan, matrix)
    assert path.read_bytes() == written  # replaced by the levels built again


@needs_onnx
def test_a_scan_written_in_parts_is_the_file_written_whole_without_a_whole_copy_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made in parts straight into the file (a compaction's, a first start's), the matrix and
    its levels are the same bytes, in the same file, as when built whole and written; the
    heap holds a few parts of them, not a copy of either."""
    monkeypatch.setattr(cosine_scan, "PART_ROWS", 500)
    matrix = unit_rows(40_123, seed=24)
    whole = tmp_path / "whole.levels.npz"
    write_levels(whole, levels_key(matrix), cosine_scan.int8_levels(matrix), matrix)
    parts = tmp_path / "parts.levels.npz"
    read: list[int] = []

    def rows(start: int, stop: int) -> tuple[np.ndarray, None]:
        read.append(start)
        return matrix[start:stop], None

    tracemalloc.start()
    try:
        saved = cosine_scan.levels_in_parts(parts, matrix.shape, rows)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Each part read once: the key is digested as they are written, not in a pass before.
    assert read == list(range(0, len(matrix), 500))
    assert saved is not None
    assert saved.matrix is not None
    # The matrix 62 MB, its levels 33 MB; a part's rows 0.8 MB, int8_levels' float64
    # slices of them ~1.5 MB each, and the CRC's read back 8 MB: ~12 MB in all.
    assert peak < matrix.nbytes / 4
    assert parts.read_bytes() == whole.read_bytes()
    with zipfile.ZipFile(parts) as archive:
        assert archive.testzip() is None  # every member's CRC-32
    with np.load(parts) as read:
        assert read["matrix"].tobytes() == matrix.tobytes()
    _same_scans(CosineScan(matrix, use_int8=True, saved=saved), CosineScan(matrix, True), matrix)


class _WideEncoder(StubEncoder):
    """The stub with the real encoder's width: random unit rows, once per text."""

    hidden = DIMENSIONS

    def __init__(self) -> None:
        super().__init__(lambda texts, call: unit_rows(len(texts), seed=call))


@needs_onnx
def test_a_start_gathers_its_rows_from_the_cache_a_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start's scan (`of_distinct` over `EmbeddingCache.parts`) digests the cached rows,
    writes them with their levels and reads them back a part at a time: the heap never holds
    the matrix (gathered whole from the mapped cache, it was held twice: 2 x 879 MiB at
    100,000 generated tools, a start's peak). Built or read, the scan is the one built
    whole."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    monkeypatch.setattr(cosine_scan, "PART_ROWS", 500)
    layout, texts = _layout(20_000)  # 40,000 distinct texts: 61 MB of rows
    encoder = _WideEncoder()
    path = tmp_path / "encoder.npz"
    matrix = EmbeddingCache(path).embed(encoder, texts)  # embedded and saved
    whole = CosineScan(matrix, use_int8=True)
    for _round in ("built and written", "read"):
        cache = EmbeddingCache(path)  # a restart's: the rows mapped from the file
        tracemalloc.start()
        try:
            parts = cache.parts(encoder, texts)
            vectors = TextVectors.of_distinct(layout, texts, parts, DIMENSIONS, levels_path(path))
            _size, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # A few parts (0.8 MB each), the CRC's read back (8 MB), the keys and rows' tables.
        assert peak < matrix.nbytes / 3
        assert vectors.scan.matrix.tobytes() == matrix.tobytes()
        assert not vectors.scan.matrix.flags.owndata  # read from the levels file
        _same_scans(vectors.scan, whole, matrix)
    assert len(encoder.texts) == len(texts)  # embedded once: every round read the cache


def test_parts_of_texts_pruned_meanwhile_are_embedded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`parts` gathers later than it caches: a text another index's prune dropped in between
    is embedded again, not a KeyError."""
    monkeypatch.setattr(cache_module, "PRUNE_SLACK", 0)
    monkeypatch.setattr(cache_module, "PRUNE_SHARE", 0.0)
    cache = EmbeddingCache(tmp_path / "e.npz")
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    texts: Sequence[str] = ["a", "b", "c"]
    parts = cache.parts(encoder, texts)
    later = math.floor(time.monotonic()) + 10 * cache_module.PRUNE_EVERY_S
    cache.retain(["c"], now=later)
    assert cache.retain(["c"], now=later + 2 * cache_module.PRUNE_EVERY_S) == 2
    assert len(cache) == 1
    again = parts(0, 3)
    assert again.tobytes() == np.stack([seeded(t) for t in texts]).tobytes()
    assert encoder.texts == ["a", "b", "c", "a", "b"]


def test_the_texts_a_calibration_reads_come_a_block_at_a_time() -> None:
    """`per_text(which)`'s blocks are `per_text()`'s texts that `which` marks, in order, and
    `take` reads chosen ones of them, texts repeated across tools or not."""
    shared = TextLayout.of([[(0, f"text {t % 7}"), (1, f"tool {t}")] for t in range(40)])
    for layout in (shared, _layout(50)[0]):
        texts = TextVectors.distinct(layout)
        matrix = unit_rows(len(texts), seed=25)
        vectors = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS)
        every = np.concatenate(list(vectors.per_text().blocks(1000)))
        assert len(every) == len(layout.texts)
        which = np.arange(len(layout.texts)) % 3 != 0
        marked = vectors.per_text(which)
        assert len(marked) == int(which.sum())
        blocks = list(marked.blocks(7))
        assert [len(block) for block in blocks[:-1]] == [7] * (len(blocks) - 1)
        assert np.concatenate(blocks).tobytes() == every[which].tobytes()
        chosen = np.array([0, 5, 2, len(marked) - 1])
        assert marked.take(chosen).tobytes() == every[which][chosen].tobytes()


@needs_onnx
def test_a_restart_reads_the_levels_instead_of_building_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    home = tmp_path / "home"

    def started() -> TextVectors:
        stub = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
        index = SemanticEngine(home, load=lambda: stub).filled_index(_tools(), None)
        assert index.ready.is_set(), index.error
        assert index.vectors is not None
        return index.vectors

    first = started()
    [kept] = (home / "embeddings").glob("*.levels.npz")
    [cache] = [p for p in (home / "embeddings").glob("*.npz") if p != kept]
    assert levels_path(cache) == kept

    def no_build(*_args: object) -> None:
        raise AssertionError("the levels were built again")

    monkeypatch.setattr(cosine_scan, "_fill", no_build)
    # Nor are the rows digested: they are compared with the file's matrix a part at a time
    # (scan_file.matching_levels).
    monkeypatch.setattr(scan_file, "parts_key", no_build)
    again = started()
    _same_scans(again.scan, first.scan, first.scan.matrix)


@needs_onnx
def test_levels_are_matched_by_their_matrix_and_code_without_a_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """matching_levels reads a file's levels when the file's code and shape are ours and
    its matrix is the one the rows give, bit for bit (the last row of the last part
    included); a file of other rows, of another shape or from before `code` is not read
    (the caller then digests, and finds that older file by its key)."""
    monkeypatch.setattr(scan_file, "_COMPARED_ROWS", 700)
    matrix = unit_rows(3000, seed=23)
    path = tmp_path / "encoder.levels.npz"
    levels = cosine_scan.int8_levels(matrix)
    write_levels(path, levels_key(matrix), levels, matrix)
    parts: list[tuple[int, int]] = []

    def rows(of: np.ndarray) -> Callable[[int, int], np.ndarray]:
        def part(start: int, stop: int) -> np.ndarray:
            parts.append((start, stop))
            return of[start:stop]

        return part

    found = matching_levels(path, matrix.shape, rows(matrix))
    assert found is not None
    assert found.matrix is not None
    assert found.matrix.tobytes() == matrix.tobytes()
    assert found.codes_t.tobytes() == levels.codes_t.tobytes()
    assert parts == [(s, min(s + 700, 3000)) for s in range(0, 3000, 700)]
    other = matrix.copy()
    other[-1, -1] = np.nextafter(other[-1, -1], np.float32(2))  # one bit of the last row
    assert matching_levels(path, matrix.shape, rows(other)) is None
    assert matching_levels(path, (2999, matrix.shape[1]), rows(matrix[:-1])) is None
    arrays = {name: getattr(levels, name) for name in ("codes_t", "fine_rows", "scales")}
    arrays |= {"fine_scales": levels.fine_scales, "norms": levels.norms, "matrix": matrix}
    older = tmp_path / "older.levels.npz"  # as written before the file held its `code`
    replace_atomically(
        older, lambda out: write_npz(out.fileno(), {"key": np.array(levels_key(matrix))} | arrays)
    )
    assert matching_levels(older, matrix.shape, rows(matrix)) is None
    assert read_levels(older, levels_key(matrix), matrix.shape) is not None


def _resident_kib(path: Path) -> int:
    """This process's resident KiB of the mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = fields[-1] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@needs_onnx
def test_a_calibrations_gather_hands_the_mapped_pages_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calibration reads every text's vector from the levels file's mapping a block at a
    time, and the pages read go back after each: the file's matrix never stays resident
    (0.9 GB at 100,000 generated tools, until the calibration's end)."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    layout, texts = _layout(10_000)
    matrix = unit_rows(len(texts), seed=26)
    path = tmp_path / "encoder.levels.npz"
    vectors = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS, path)
    which = np.arange(len(layout.texts)) % 5 != 0
    blocks = []
    for block in vectors.per_text(which).blocks(1000):  # 16 blocks
        blocks.append(block)
        assert _resident_kib(path) * 1024 < matrix.nbytes / 4  # a block's pages (and around)
    assert _resident_kib(path) * 1024 < matrix.nbytes / 8
    assert np.concatenate(blocks).tobytes() == matrix[which].tobytes()


@needs_onnx
def test_the_texts_a_calibration_takes_leave_no_mapped_pages_resident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probes a calibration takes are spread over the matrix; the kernel maps a large
    folio around each row read, so they are read a few at a time and the pages handed back:
    500 rows of 100,000 generated tools left 789 of the matrix's 879 MiB resident."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    layout, texts = _layout(10_000)
    matrix = unit_rows(len(texts), seed=29)
    path = tmp_path / "encoder.levels.npz"
    vectors = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS, path)
    vectors.scan.release()
    spread = np.linspace(0, len(texts) - 1, 500).astype(np.int64)
    for which in (None, np.arange(len(layout.texts)) % 7 != 0):
        every = vectors.per_text() if which is None else vectors.per_text(which)
        expected = matrix if which is None else matrix[which]
        chosen = spread[spread < len(every)]
        assert every.take(chosen).tobytes() == expected[chosen].tobytes()
        assert _resident_kib(path) * 1024 < matrix.nbytes / 8


@needs_onnx
def test_a_calibration_of_every_distinct_text_reads_the_mapped_matrix_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first start calibrates every text once, each its own row: its blocks are the levels
    file's matrix itself, not copies, and the same calibration, to the bit, as over a copy."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    layout, texts = _layout(3000)
    matrix = unit_rows(len(texts), seed=27)
    path = tmp_path / "encoder.levels.npz"
    vectors = TextVectors.of_distinct(layout, texts, _parts(matrix), DIMENSIONS, path)
    every = np.ones(len(layout.texts), dtype=bool)
    read = vectors.per_text(every)
    blocks = list(read.blocks(1000))
    assert all(np.shares_memory(block, vectors.scan.matrix) for block in blocks)
    assert np.concatenate(blocks).tobytes() == matrix.tobytes()
    negatives = unit_rows(40, seed=28)
    owners = layout.owners
    kinds = np.where(np.arange(len(texts)) % 4 == 1, EXAMPLE_KIND, layout.kinds)
    for kind in (kinds, layout.kinds):  # with examples to probe with, and without
        got = calibrate(read, kind, negatives, owners, 30)
        assert got == calibrate(matrix.copy(), kind, negatives, owners, 30)


@needs_onnx
def test_rows_read_from_the_mapped_file_do_not_stay_resident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan reads the matrix and the second level in place; the pages it reads go back
    to the kernel once RELEASE_ROWS rows were read, so a worker does not end up holding the
    whole file however many requests read it."""
    monkeypatch.setattr(cosine_scan, "RELEASE_ROWS", 1000)
    monkeypatch.setattr(cosine_scan, "RELEASE_EVERY_S", 0.0)
    monkeypatch.setattr(cosine_scan, "RELEASE_IDLE_S", 3600.0)  # not while the test reads
    matrix = unit_rows(4000, seed=23)
    path = tmp_path / "encoder.levels.npz"
    write_levels(path, levels_key(matrix), cosine_scan.int8_levels(matrix), matrix)
    read = read_levels(path, levels_key(matrix), matrix.shape)
    scan = CosineScan(matrix, use_int8=True, saved=read)
    assert _resident_kib(path) == 0  # the codes were read once, by ONNX Runtime's packing
    query = matrix[9]
    some = np.arange(0, 4000, 8)  # 500 rows: under RELEASE_ROWS
    assert scan.exact(query, some).tobytes() == CosineScan(matrix).exact(query, some).tobytes()
    assert _resident_kib(path) > 0
    scan.approximate(query).finer(some)  # 1,000 rows read: the pages go back
    _released()
    assert _resident_kib(path) == 0
    scan.exact(query)  # every row
    _released()
    assert _resident_kib(path) == 0
    _cancel_idle_releases()


@needs_onnx
def test_rows_read_go_back_once_reads_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows read under RELEASE_ROWS, or within RELEASE_EVERY_S of the last release, go
    back once no row was read for RELEASE_IDLE_S: a worker that stops serving does not keep
    the last requests' pages (a whole exact scan's: the whole matrix)."""
    monkeypatch.setattr(cosine_scan, "RELEASE_EVERY_S", 3600.0)  # only the idle release
    monkeypatch.setattr(cosine_scan, "RELEASE_IDLE_S", 0.05)
    matrix = unit_rows(4000, seed=29)
    path = tmp_path / "encoder.levels.npz"
    write_levels(path, levels_key(matrix), cosine_scan.int8_levels(matrix), matrix)
    scan = CosineScan(
        matrix, use_int8=True, saved=read_levels(path, levels_key(matrix), matrix.shape)
    )
    query = matrix[3]
    for rows in (np.arange(0, 4000, 16), None):  # a few rows; then every row
        before = scan.exact(query, rows)
        _settled()
        assert _resident_kib(path) == 0
        assert scan.exact(query, rows).tobytes() == before.tobytes()  # read again alike
        _settled()
        assert _resident_kib(path) == 0


def _released() -> None:
    """Wait for the releases under way (CosineScan._touch starts them beside the request)."""
    for thread in threading.enumerate():
        if thread.name == "toolcatalog-release":
            thread.join()


def _settled() -> None:
    """Wait until no idle release is pending (CosineScan._settle arms itself again while
    rows were read within RELEASE_IDLE_S)."""
    deadline = time.monotonic() + 60  # a safety net only
    while pending := [t for t in threading.enumerate() if t.name == "toolcatalog-release-idle"]:
        assert time.monotonic() < deadline, "an idle release never ran"
        for thread in pending:
            thread.join(timeout=60)


def _cancel_idle_releases() -> None:
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and thread.name == "toolcatalog-release-idle":
            thread.cancel()


@needs_onnx
def test_a_written_catalogs_scan_is_kept_in_the_file_and_read_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's scan, derived in memory from the previous one, is written beside the cache
    once no newer index took over (KEEP_AFTER_S): it then reads the file, answers as a scan
    built from its rows, and a restart over the written catalog reads it too."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    monkeypatch.setattr(semantic_engine, "KEEP_AFTER_S", 0.0)
    home = tmp_path / "home"

    def engine() -> SemanticEngine:
        stub = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
        return SemanticEngine(home, load=lambda: stub)

    writer = engine()
    first = writer.filled_index(_tools(), None)
    written = writer.filled_index(_tools(" It also reports."), first)
    assert writer.close(60)  # the keeping thread is done
    assert written.vectors is not None
    scan = written.vectors.scan
    assert scan._mapped is not None
    assert not scan.matrix.flags.owndata
    rows = np.array(scan.matrix)
    _same_scans(scan, CosineScan(rows, use_int8=True), rows)

    def no_build(*_args: object) -> None:
        raise AssertionError("the levels were built again")

    monkeypatch.setattr(cosine_scan, "_fill", no_build)
    restarted = engine().filled_index(_tools(" It also reports."), None)
    assert restarted.vectors is not None
    assert restarted.vectors.scan.matrix.tobytes() == rows.tobytes()
    _same_scans(restarted.vectors.scan, scan, rows)
