"""The embedding cache keeps what its indexes use: a text no index uses any more (an old
description) is dropped from memory and from the cache file after a full prune interval, and
rows shared through the database or other encoders' files unused for a week are deleted."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

import toolcatalog.selection.embedding_cache as cache_module
from toolcatalog.selection.embedding_cache import PRUNE_EVERY_S, EmbeddingCache

from .stub_encoder import StubEncoder, filled


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prune as soon as the cache holds one text more than its indexes use; fold the side
    file into the main file after every embedding."""
    monkeypatch.setattr(cache_module, "PRUNE_SLACK", 0)
    monkeypatch.setattr(cache_module, "SAVE_AFTER_TEXTS", 1)
    monkeypatch.setattr(cache_module, "PRUNE_SHARE", 0.0)
    monkeypatch.setattr(cache_module, "FOLD_SLACK", 0)


def _embedded_again(path: Path, texts: list[str]) -> list[str]:
    """Which of `texts` a restart's cache (read from `path`) would have to embed."""
    encoder = StubEncoder(filled(float))
    EmbeddingCache(path).embed(encoder, texts)
    return encoder.texts


@pytest.mark.usefixtures("eager")
def test_a_text_no_index_uses_goes_at_the_second_prune_after_it_was_cached(
    tmp_path: Path,
) -> None:
    path = tmp_path / "e.npz"
    cache = EmbeddingCache(path)
    cache.embed(StubEncoder(filled(float)), ["kept", "old description", "reverted"])
    start = time.monotonic()
    # Not yet time: nothing is dropped however grown the cache is.
    assert cache.retain(["kept"], now=start + PRUNE_EVERY_S / 2) == 0
    # The first prune keeps what was cached in the last interval (a revert finds it).
    assert cache.retain(["kept"], now=start + PRUNE_EVERY_S + 1) == 0
    assert len(cache) == 3
    cache.embed(StubEncoder(filled(float)), ["new description"])
    # The second drops what no index used in between, keeps the live and the new texts.
    assert cache.retain(["kept"], now=start + 2 * PRUNE_EVERY_S + 2) == 2
    assert len(cache) == 2
    # And the file a restart reads holds just those.
    everything = ["kept", "new description", "old description", "reverted"]
    assert _embedded_again(path, everything) == ["old description", "reverted"]


@pytest.mark.usefixtures("eager")
def test_a_cache_as_large_as_its_indexes_is_not_pruned(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.npz")
    cache.embed(StubEncoder(filled(float)), ["a", "b"])
    # Whole seconds, so the prunes below fall exactly PRUNE_EVERY_S apart: with the clock's
    # fraction, (later + 4 x interval) - (later + 3 x interval) came out a hair under the
    # interval in ~1 run of 10, and the due prune was skipped.
    later = math.floor(time.monotonic()) + 10 * PRUNE_EVERY_S
    assert cache.retain(["a", "b"], now=later) == 0
    assert cache.retain(["a", "b"], now=later + 2 * PRUNE_EVERY_S) == 0
    assert len(cache) == 2
    # An interval went by all the same: a text cached before it and no longer used goes
    # at the next prune, not one interval later.
    cache.embed(StubEncoder(filled(float)), ["c"])
    assert cache.retain(["a", "b", "c"], now=later + 3 * PRUNE_EVERY_S) == 0
    assert cache.retain(["a", "c"], now=later + 4 * PRUNE_EVERY_S) == 1


@pytest.mark.usefixtures("eager")
def test_texts_read_from_the_file_survive_the_first_prune(tmp_path: Path) -> None:
    """Another catalog in the same home (a CLI run) left its texts in the file: a process
    that does not use them keeps them through one full interval."""
    path = tmp_path / "e.npz"
    EmbeddingCache(path).embed(StubEncoder(filled(float)), ["theirs", "ours"])
    cache = EmbeddingCache(path)
    start = time.monotonic()
    assert cache.retain(["ours"], now=start + PRUNE_EVERY_S + 1) == 0
    assert cache.retain(["ours"], now=start + 2 * PRUNE_EVERY_S + 2) == 1
    assert _embedded_again(path, ["ours", "theirs"]) == ["theirs"]


def test_other_encoders_files_unwritten_for_a_week_are_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    ours = folder / "encoder-2.npz"
    stale, recent = folder / "encoder-1.npz", folder / "encoder-0.npz"
    leftover = folder / ".encoder-2.123.456.npz"  # a writer that died mid-save
    for path in (ours, stale, recent, leftover):
        np.savez(path, keys=np.zeros((0, 16), dtype=np.uint8), vectors=np.zeros((0, 3)))
    # And their calibrations (calibration_file.py), ours kept whatever its age.
    calibrations = [folder / f"encoder-{n}.calibration.json" for n in (2, 1, 0)]
    for path in calibrations:
        path.write_text("{}")
    week_ago = time.time() - cache_module.FORGET_AFTER_S - 60
    for path in (ours, stale, leftover, *calibrations[:2]):  # ours too: in use whatever its age
        os.utime(path, (week_ago, week_ago))
    cache = EmbeddingCache(ours)
    cache.retain([])
    assert sorted(p.name for p in folder.iterdir()) == [
        "encoder-0.calibration.json",
        "encoder-0.npz",
        "encoder-2.calibration.json",
        "encoder-2.npz",
    ]


@pytest.mark.usefixtures("eager")
def test_a_failing_shared_store_leaves_the_prune_done(tmp_path: Path) -> None:
    from collections.abc import Mapping, Sequence

    from toolcatalog.selection.encoders.minilm import Array

    class Failing:
        def fetch(self, kind: str, keys: Sequence[bytes], size: int) -> dict[bytes, Array]:
            return {}

        def publish(self, kind: str, vectors: Mapping[bytes, Array]) -> None:
            return None

        def forget(self, kind: str, keep: Sequence[bytes], older_than_s: float) -> int:
            raise ConnectionError("database unreachable")

    cache = EmbeddingCache(tmp_path / "e.npz", Failing(), "stub")
    cache.embed(StubEncoder(filled(float)), ["a", "b"])
    start = time.monotonic()
    cache.retain(["a"], now=start + PRUNE_EVERY_S + 1)
    assert cache.retain(["a"], now=start + 2 * PRUNE_EVERY_S + 2) == 1
    assert len(cache) == 1


@pytest.mark.usefixtures("eager")
def test_a_reload_leaves_an_old_description_out_of_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolcatalog.config import Settings
    from toolcatalog.selection.loader import FolderSource
    from toolcatalog.selection.selector import Selector
    from toolcatalog.selection.semantic_engine import SemanticEngine

    from .selection_catalog import CATALOG, LOGROTATE, write_catalog

    monkeypatch.setattr(cache_module, "PRUNE_EVERY_S", 0.0)  # every index prunes
    old = "logrotate: Rotates, compresses and removes log files on a schedule."
    folder = write_catalog(tmp_path / "c", {**CATALOG, "logs/logrotate.yaml": LOGROTATE})
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    encoder = StubEncoder(filled(float))
    engine = SemanticEngine(settings.home, load=lambda: encoder)
    selector = Selector(FolderSource(folder, check_interval_s=0), settings, engine=engine)
    assert selector.wait_for_semantic(60), selector.semantic_status
    changed = LOGROTATE.replace("on a schedule", "by size or age")
    write_catalog(folder, {"logs/logrotate.yaml": changed})
    assert selector.wait_for_semantic(60)
    path = next((settings.home / "embeddings").glob("*.npz"))
    again = _embedded_again(path, [old, old.replace("on a schedule", "by size or age")])
    assert again == [old]


def test_a_prune_drops_texts_held_in_the_side_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts a write appended (no fold: the side file is small) are pruned as the main file's
    are: the prune folds, and a restart reads neither file's dropped texts."""
    monkeypatch.setattr(cache_module, "PRUNE_SLACK", 0)
    monkeypatch.setattr(cache_module, "PRUNE_SHARE", 0.0)
    path = tmp_path / "e.npz"
    cache = EmbeddingCache(path)
    cache.embed(StubEncoder(filled(float)), ["kept", "old description"])
    assert not path.exists()  # appended only
    start = time.monotonic()
    later = start + PRUNE_EVERY_S + 1
    assert cache.retain(["kept"], now=later) == 0  # young through the first interval
    assert cache.retain(["kept"], now=later + PRUNE_EVERY_S + 1) == 1
    assert _embedded_again(path, ["kept", "old description"]) == ["old description"]
