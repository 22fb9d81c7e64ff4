"""The embedding cache's file: rows written in slices read back bit for bit through a mapping,
files np.savez wrote (earlier versions) or np.savez_compressed wrote still read, and the
cache holding its rows mapped answers as it did with them in memory."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import toolcatalog.selection.cache_file as cache_file
import toolcatalog.selection.cache_log as cache_log
import toolcatalog.selection.embedding_cache as cache_module
from toolcatalog.selection.cache_file import MappedRows, read_rows, write_rows
from toolcatalog.selection.cache_log import log_path, records
from toolcatalog.selection.embedding_cache import EmbeddingCache, _key

from .stub_encoder import StubEncoder, seeded


def _keys(n: int) -> list[bytes]:
    return [i.to_bytes(16, "big") for i in range(n)]


def test_rows_written_in_slices_read_back_through_the_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_file, "_SLICE", 3)
    rng = np.random.default_rng(7)
    held = rng.standard_normal((5, 4)).astype(np.float32)
    added = list(rng.standard_normal((4, 4)).astype(np.float32))
    first = tmp_path / "a.npz"
    write_rows(first, _keys(5), np.arange(5), MappedRows(held), [])
    keys, mapped = read_rows(first)
    assert keys == _keys(5)
    assert mapped._mapping is not None  # read in place, not into memory
    assert mapped.take(np.arange(5)).tobytes() == held.tobytes()
    # Rows of the mapping and rows added since, in another order, some left out.
    order = np.array([8, 0, 6, 4, 5, 2])
    second = tmp_path / "b.npz"
    write_rows(second, [bytes([i]) * 16 for i in order], order, mapped, added)
    keys, again = read_rows(second)
    expected = np.concatenate([held, np.stack(added)])[order]
    assert keys == [bytes([i]) * 16 for i in order]
    assert again.take(np.arange(len(order))).tobytes() == expected.tobytes()
    with np.load(second) as data:  # still what np.load reads
        assert data["vectors"].tobytes() == expected.tobytes()


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_files_numpy_wrote_are_read(tmp_path: Path, save: object) -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    keys = np.frombuffer(b"".join(_keys(3)), dtype=np.uint8).reshape(3, 16)
    path = tmp_path / "old.npz"
    save(path, keys=keys, vectors=vectors)  # type: ignore[operator]
    read, mapped = read_rows(path)
    assert read == _keys(3)
    assert mapped.take(np.array([2, 0])).tolist() == vectors[[2, 0]].tolist()


def test_a_restarted_cache_answers_from_its_file_as_the_first_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "SAVE_AFTER_TEXTS", 1)
    monkeypatch.setattr(cache_module, "FOLD_SLACK", 0)
    path = tmp_path / "e.npz"
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    texts = [f"text {i}" for i in range(10)]
    first = EmbeddingCache(path)
    made = first.embed(encoder, texts[:6])
    # Saved after the embedding: its rows are mapped from the file now, and more come.
    assert first._file._mapping is not None
    assert not first._added
    more = first.embed(encoder, texts)
    assert more[:6].tobytes() == made.tobytes()
    restarted = EmbeddingCache(path)
    calls = encoder.calls
    again = restarted.embed(encoder, [*reversed(texts), texts[3]])
    assert encoder.calls == calls  # nothing embedded again
    assert again.tobytes() == more[[*range(9, -1, -1), 3]].tobytes()


@pytest.mark.parametrize("content", [b"", b"not a cache", b"PK\x03\x04 cut short"])
def test_a_file_that_is_not_a_cache_is_ignored_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    monkeypatch.setattr(cache_module, "FOLD_SLACK", 0)
    path = tmp_path / "e.npz"
    path.write_bytes(content)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache = EmbeddingCache(path)
    assert len(cache) == 0
    made = cache.embed(encoder, [f"text {i}" for i in range(cache_module.SAVE_AFTER_TEXTS)])
    keys, _mapped = read_rows(path)  # a cache file again, with what was embedded
    assert len(keys) == len(made)


def test_a_few_texts_are_appended_and_the_main_file_is_not_rewritten(tmp_path: Path) -> None:
    """A write's few new texts go to the side file (one record each call); the main file, 0.9 GB
    at 100,000 generated tools, stays as it was, and a restart reads both."""
    path = tmp_path / "e.npz"
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    many = [f"text {i}" for i in range(cache_module.SAVE_AFTER_TEXTS)]
    cache = EmbeddingCache(path)
    cache.embed(encoder, many)  # a first start: the main file is written
    assert len(read_rows(path)[0]) == len(many)
    written = path.stat().st_mtime_ns, path.stat().st_ino
    for write in range(3):
        cache.embed(encoder, [f"a write's text {write}", "shared by every write"])
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written
    assert len(records(log_path(path).read_bytes()[16:])[0]) == 3
    restarted = EmbeddingCache(path)
    texts = [*many, "a write's text 2", "shared by every write", "a write's text 0"]
    calls = encoder.calls
    assert restarted.embed(encoder, texts).tobytes() == cache.embed(encoder, texts).tobytes()
    assert encoder.calls == calls  # nothing embedded again


def test_a_caller_that_embeds_many_texts_folds_a_large_side_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start, an import or a CLI run (which may exit at once) folds the side file into the
    main file once it is large beside it, and the side file is emptied."""
    monkeypatch.setattr(cache_module, "SAVE_AFTER_TEXTS", 3)
    monkeypatch.setattr(cache_module, "FOLD_SLACK", 6)
    path = tmp_path / "e.npz"
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache = EmbeddingCache(path)
    cache.embed(encoder, ["a", "b", "c"])  # a first run: the main file is written
    assert read_rows(path)[0] == [_key(t) for t in "abc"]
    written = path.stat().st_ino
    cache.embed(encoder, ["d", "e"])  # a write's: appended
    cache.embed(encoder, ["f", "g", "h"])  # many, but 5 rows appended: not over 6 + 5%
    assert path.stat().st_ino == written
    cache.embed(encoder, ["i", "j", "k"])  # many, and the side file large: folded
    assert read_rows(path)[0] == [_key(t) for t in "abcdefghijk"]
    assert log_path(path).stat().st_size == 0
    again = EmbeddingCache(path)
    assert (
        again.embed(encoder, list("kjihgfedcba")).tobytes()
        == cache.embed(encoder, list("kjihgfedcba")).tobytes()
    )


def _appended(path: Path, texts: list[str]) -> bytes:
    """The side file of a cache at `path` after one call embedding `texts`."""
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    EmbeddingCache(path).embed(encoder, texts)
    return log_path(path).read_bytes()


def test_a_torn_last_record_is_dropped_at_every_byte(tmp_path: Path) -> None:
    """A crash mid-append leaves part of the last record: a restart keeps every record before
    it and none of it, whichever byte the file ends at, and appends after it are read."""
    path = tmp_path / "e.npz"
    _appended(path, ["one", "two"])
    whole = _appended(path, ["three"])
    last = whole.rindex(b"TCEMBREC")
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    for end in range(last, len(whole)):
        log_path(path).write_bytes(whole[:end])
        cache = EmbeddingCache(path)
        assert len(cache) == 2, end
        assert cache.embed(encoder, ["one", "two"]).tobytes() == b"".join(
            seeded(t).tobytes() for t in ["one", "two"]
        )
        cache.embed(encoder, [f"after {end}"])  # appended after the torn bytes
        assert len(EmbeddingCache(path)) == 3, end
    assert encoder.texts == [f"after {end}" for end in range(last, len(whole))]


def test_damaged_bytes_in_the_side_file_are_skipped(tmp_path: Path) -> None:
    """A record whose bytes changed (a disk's, or a torn append followed by others) is dropped;
    the records after it are read."""
    path = tmp_path / "e.npz"
    _appended(path, ["one"])
    _appended(path, ["two"])
    whole = bytearray(_appended(path, ["three"]))
    second = whole.index(b"TCEMBREC", whole.index(b"TCEMBREC") + 1)
    whole[second + 30] ^= 0xFF  # in its key
    log_path(path).write_bytes(bytes(whole))
    cache = EmbeddingCache(path)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache.embed(encoder, ["one", "two", "three"])
    assert encoder.texts == ["two"]


def test_a_side_file_that_is_not_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "e.npz"
    log_path(path).write_bytes(b"not a side file at all")
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    EmbeddingCache(path).embed(encoder, ["one"])
    assert len(EmbeddingCache(path)) == 1


def _writer(path: Path, name: str, count: int, fold_every: int) -> None:
    """A process appending `count` texts of its own one at a time (as writes do), folding the
    side file into the main file every `fold_every` (0: never)."""
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache = EmbeddingCache(path)
    for i in range(count):
        cache.embed(encoder, [f"{name} {i}"])
        if fold_every and i % fold_every == fold_every - 1:
            cache._save()


def test_two_processes_append_and_fold_without_losing_or_mixing_rows(tmp_path: Path) -> None:
    """Two processes of one home (workers, the CLI) append at once, both folding meanwhile
    (each then misses records the other cut): a restart reads every text of both, each with
    its own vector."""
    path = tmp_path / "e.npz"
    forked = multiprocessing.get_context("fork")
    count = 120
    writers = [
        forked.Process(target=_writer, args=(path, "first", count, 30)),
        forked.Process(target=_writer, args=(path, "second", count, 25)),
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)  # a safety net
        assert writer.exitcode == 0
    texts = [f"{name} {i}" for name in ("first", "second") for i in range(count)]
    restarted = EmbeddingCache(path)
    assert len(restarted) == len(texts)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    vectors = restarted.embed(encoder, texts)
    assert encoder.calls == 0
    assert vectors.tobytes() == np.stack([seeded(t) for t in texts]).tobytes()


def test_a_write_does_not_wait_for_its_append_to_reach_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's record is written before `embed` returns (another process reads it at
    once) and fsynced by a thread beside: an fsync waited for other files' data too."""
    release, syncing = threading.Event(), threading.Event()
    real = os.fdatasync

    def held_back(fd: int) -> None:
        syncing.set()
        assert release.wait(60)  # a safety net: the test sets it at once
        real(fd)

    monkeypatch.setattr(cache_log.os, "fdatasync", held_back)
    path = tmp_path / "e.npz"
    cache = EmbeddingCache(path)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    made = cache.embed(encoder, ["one text"])  # returns while the fsync is held back
    assert syncing.wait(60)
    assert EmbeddingCache(path).embed(encoder, ["one text"]).tobytes() == made.tobytes()
    assert encoder.calls == 1
    release.set()
    assert cache._log is not None
    syncer = cache._log._syncer
    if syncer is not None:
        syncer.join(60)


def test_a_fold_keeps_the_rows_another_process_folded_before_it(tmp_path: Path) -> None:
    """Two processes of one home: the first folds its text into the main file (the side file
    is cut), then the second, which never read that text's record, folds: the main file it
    writes keeps the first's text, and a restart embeds neither again."""
    path = tmp_path / "e.npz"
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    first, second = EmbeddingCache(path), EmbeddingCache(path)
    first.embed(encoder, ["the first's text"])  # appended
    first._save()  # folded: the side file is cut
    second.embed(encoder, ["the second's text"])  # appended to the cut side file
    second._save()
    restarted = EmbeddingCache(path)
    calls = encoder.calls
    texts = ["the first's text", "the second's text"]
    assert (
        restarted.embed(encoder, texts).tobytes() == np.stack([seeded(t) for t in texts]).tobytes()
    )
    assert encoder.calls == calls


def test_a_start_beside_a_fold_reads_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process starting while another folds (it read the main file before the fold wrote it,
    and the side file after the fold cut it) holds every folded row all the same."""
    path = tmp_path / "e.npz"
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    first = EmbeddingCache(path)
    first.embed(encoder, ["an old text"])
    first._save()
    first.embed(encoder, ["a new text"])  # appended, not folded yet
    real = cache_module.read_rows
    folded = False

    def fold_between(file: Path) -> tuple[list[bytes], MappedRows]:
        """The main file's read, and then the other process's fold at once (only the first)."""
        nonlocal folded
        read = real(file)
        if not folded:
            folded = True
            first._save()
        return read

    monkeypatch.setattr(cache_module, "read_rows", fold_between)
    starting = EmbeddingCache(path)
    monkeypatch.setattr(cache_module, "read_rows", real)
    assert len(starting) == 2
    calls = encoder.calls
    starting.embed(encoder, ["an old text", "a new text"])
    assert encoder.calls == calls
