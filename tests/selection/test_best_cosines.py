"""The best cosines a calibration measures, read a block of texts at a time
(selection/best_cosines.py): one block gives the whole matrix's products bit for bit, several
the same maxima but for the products' last bits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from toolcatalog.selection import best_cosines as module
from toolcatalog.selection.best_cosines import IDENTICAL, BestCosines, HeldRows, best_cosines
from toolcatalog.selection.calibrate import calibrate

Vectors = npt.NDArray[np.float32]


def _unit(count: int, seed: int, dimensions: int = 48) -> Vectors:
    rows = np.random.default_rng(seed).standard_normal((count, dimensions))
    out: Vectors = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return out


def _texts() -> tuple[Vectors, npt.NDArray[np.int64]]:
    """300 texts of 100 tools, some texts copies of others (a probe's copies are not its
    neighbours)."""
    vectors = _unit(300, seed=1)
    vectors[50:60] = vectors[40:50]
    return vectors, np.repeat(np.arange(100), 3)


def _whole(vectors: Vectors, owners: npt.NDArray[np.int64]) -> BestCosines:
    """The best cosines written out over the whole matrix, 64 left-hand rows at a time (the
    calibration's products before it read texts in blocks)."""
    probes, descriptions = np.arange(0, 300, 2), np.arange(1, 300, 3)
    negatives = (_unit(20, seed=2) @ vectors.T).max(axis=1).astype(np.float64)
    probe_best = np.full(len(probes), -1.0)
    for at in range(0, len(probes), 64):
        sims = vectors[probes[at : at + 64]] @ vectors.T
        sims[sims >= IDENTICAL] = -1.0
        probe_best[at : at + 64] = sims.max(axis=1)
    description_best = np.full(len(descriptions), -1.0)
    for at in range(0, len(descriptions), 64):
        chunk = descriptions[at : at + 64]
        sims = vectors[chunk] @ vectors.T
        sims[owners[chunk][:, None] == owners[None, :]] = -1.0
        description_best[at : at + 64] = sims.max(axis=1)
    return BestCosines(negatives, probe_best, description_best)


def _blocked(vectors: Vectors, owners: npt.NDArray[np.int64]) -> BestCosines:
    probes, descriptions = np.arange(0, 300, 2), np.arange(1, 300, 3)
    texts = HeldRows(vectors)
    return best_cosines(
        texts,
        _unit(20, seed=2),
        texts.take(probes),
        texts.take(descriptions),
        (owners, owners[descriptions]),
    )


def test_one_block_gives_the_whole_matrixs_cosines_bit_for_bit() -> None:
    vectors, owners = _texts()
    whole, blocked = _whole(vectors, owners), _blocked(vectors, owners)
    for name in ("negatives", "probes", "descriptions"):
        assert getattr(blocked, name).tobytes() == getattr(whole, name).tobytes(), name
    assert (whole.probes[20:25] < IDENTICAL).all()  # the copies were left out


@pytest.mark.parametrize("rows", [1, 7, 64, 299])
def test_blocks_give_the_same_best_cosines(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, owners = _texts()
    whole = _whole(vectors, owners)
    monkeypatch.setattr(module, "BLOCK_ROWS", rows)
    blocked = _blocked(vectors, owners)
    for name in ("negatives", "probes", "descriptions"):
        assert getattr(blocked, name) == pytest.approx(getattr(whole, name), abs=1e-6), name


@pytest.mark.parametrize("examples", [True, False])
def test_a_calibration_read_in_blocks_is_the_one_held_whole(
    examples: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors, owners = _texts()
    kinds = np.tile([0, 1, 2], 100) if examples else np.tile([0, 2, 2], 100)
    negatives = _unit(30, seed=3)
    whole = calibrate(vectors, kinds, negatives, owners, 20)
    monkeypatch.setattr(module, "BLOCK_ROWS", 32)
    blocked = calibrate(vectors, kinds, negatives, owners, 20)
    assert blocked.corroborate is whole.corroborate is examples
    assert blocked.threshold == pytest.approx(whole.threshold, abs=1e-6)
    assert blocked.generic_margin == pytest.approx(whole.generic_margin, abs=1e-6)
    assert (blocked.probes, blocked.negative_refusal) == (whole.probes, whole.negative_refusal)
