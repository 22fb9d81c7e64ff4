"""The embedding cache's file: rows written in slices read back bit for bit through a mapping,
files np.savez wrote (earlier versions) or np.savez_compressed wrote still read, and the
cache holding its rows mapped answers as it did with them in memory."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import toolcatalog.selection.cache_file as cache_file
import toolcatalog.selection.embedding_cache as cache_module
from toolcatalog.selection.cache_file import MappedRows, read_rows, write_rows
from toolcatalog.selection.embedding_cache import EmbeddingCache

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
def test_a_file_that_is_not_a_cache_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.npz"
    path.write_bytes(content)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache = EmbeddingCache(path)
    assert len(cache) == 0
    made = cache.embed(encoder, [f"text {i}" for i in range(cache_module.SAVE_AFTER_TEXTS)])
    keys, _mapped = read_rows(path)  # a cache file again, with what was embedded
    assert len(keys) == len(made)


def _held_back_writes(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """(release, writing): the cache file's writes wait for `release` once `writing` is set."""
    release, writing = threading.Event(), threading.Event()
    real = cache_file.write_rows

    def held_back(*args: object) -> None:
        writing.set()
        assert release.wait(60)  # a safety net: the test sets it at once
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "write_rows", held_back)
    return release, writing


@pytest.mark.parametrize("due", ["interval", "texts of many writes"])
def test_a_few_texts_are_saved_beside_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, due: str
) -> None:
    """A write's few new texts wait for no rewrite of every vector: `embed` returns while the
    save is still held back, and the save beside it writes them (a new cache reads them).
    The save is due after SAVE_EVERY_S, or once many writes' texts add up to SAVE_AFTER_TEXTS
    (each call's own under it: at 100,000 tools that rewrite is 0.9 GB)."""
    if due == "interval":
        monkeypatch.setattr(cache_module, "SAVE_EVERY_S", 0.0)
        first: list[str] = []
    else:
        monkeypatch.setattr(cache_module, "SAVE_AFTER_TEXTS", 3)
        first = ["an earlier write's text"]
    path = tmp_path / "e.npz"
    cache = EmbeddingCache(path)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    if first:
        cache.embed(encoder, first)  # under both: not saved
        assert cache._saving is None
    release, writing = _held_back_writes(monkeypatch)
    made = cache.embed(encoder, ["one text", "another"])  # under SAVE_AFTER_TEXTS
    assert writing.wait(60)  # the save started, and embed returned before it could end
    assert not path.exists()
    release.set()
    saving = cache._saving
    assert saving is not None
    saving.join(60)
    again = EmbeddingCache(path)
    assert len(again) == 2 + len(first)
    assert again.embed(encoder, ["one text", "another"]).tobytes() == made.tobytes()
    assert encoder.calls == 1 + bool(first)  # read from the file, not embedded again


def test_a_caller_that_embeds_many_texts_saves_them_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A start, an import or a CLI run (which may exit at once): the file is written before
    # embed returns, with no thread beside.
    monkeypatch.setattr(cache_module, "SAVE_AFTER_TEXTS", 3)
    path = tmp_path / "e.npz"
    cache = EmbeddingCache(path)
    encoder = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    cache.embed(encoder, ["a", "b", "c"])
    assert cache._saving is None
    keys, _mapped = read_rows(path)
    assert len(keys) == 3
