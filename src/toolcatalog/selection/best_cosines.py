"""The best cosines a calibration (calibrate.py) measures: of each generic request, example
probe and description to a catalog's texts, read in one pass a block of texts at a time.

A first start's calibration at 100,000 generated tools held every counted text's vector
(750,000 x 384 float32, 1.1 GB) and the generic requests' products with all of them (0.4 GB):
the start's memory peak, ~1.2 GB over serving. A block of BLOCK_ROWS texts is read, its
products with every left-hand row taken, and only the running maxima kept.

A catalog of at most BLOCK_ROWS texts is one block: the products are those of the whole
matrix, bit for bit. Over more, float32 products by block may differ from the whole
product's in their last bits (BLAS blocks by shape), and so a calibration's maxima."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray

Vectors = npt.NDArray[np.float32]
# Texts read at a time: 96 MiB of 384 float32 and its products (~34 MiB with 132 generic
# requests); no calibrated catalog of the quality benches comes near it.
BLOCK_ROWS = 65_536
# Left-hand rows (probes, descriptions) multiplied at a time.
_CHUNK = 64
# Cosines at or above this are the text itself or a copy of it (not another text).
IDENTICAL = 0.9999


class TextRows(Protocol):
    """A catalog's texts' vectors (unit rows), read a block at a time."""

    def __len__(self) -> int: ...

    def take(self, rows: IntArray) -> Vectors:
        """The vectors of `rows` (a copy)."""
        ...

    def blocks(self, size: int) -> Iterator[Vectors]:
        """Every text's vector, in order, `size` rows at a time (the last block shorter)."""
        ...


class HeldRows:
    """TextRows over a matrix held whole."""

    def __init__(self, vectors: Vectors) -> None:
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.vectors)

    def take(self, rows: IntArray) -> Vectors:
        taken: Vectors = self.vectors[rows]
        return taken

    def blocks(self, size: int) -> Iterator[Vectors]:
        if len(self.vectors) <= size:
            yield self.vectors
            return
        for at in range(0, len(self.vectors), size):
            yield self.vectors[at : at + size]


@dataclass(frozen=True)
class BestCosines:
    """Each generic request's best cosine to any text; each probe's to any text but itself
    and its copies; each description's to any text of another tool (float64)."""

    negatives: FloatArray
    probes: FloatArray
    descriptions: FloatArray


def best_cosines(
    texts: TextRows,
    negatives: Vectors,
    probes: Vectors,
    descriptions: Vectors,
    owners: tuple[IntArray, IntArray] | None = None,
) -> BestCosines:
    """The best cosines of `negatives`, of `probes` (texts of `texts`) and of `descriptions`
    (texts too) over every text of `texts`, in one pass over its blocks. `owners`: the tool
    of each text of `texts` and of each description (without them, no description's)."""
    negative_best = np.full(len(negatives), -np.inf, dtype=np.float32)
    probe_best = np.full(len(probes), -np.inf, dtype=np.float32)
    description_best = np.full(len(descriptions), -np.inf, dtype=np.float32)
    start = 0
    for block in texts.blocks(BLOCK_ROWS):
        np.maximum(negative_best, (negatives @ block.T).max(axis=1), out=negative_best)
        for at in range(0, len(probes), _CHUNK):
            sims = probes[at : at + _CHUNK] @ block.T
            sims[sims >= IDENTICAL] = -1.0
            _raise(probe_best[at : at + _CHUNK], sims)
        if owners is not None:
            of_texts, of_descriptions = owners[0][start : start + len(block)], owners[1]
            for at in range(0, len(descriptions), _CHUNK):
                sims = descriptions[at : at + _CHUNK] @ block.T
                sims[of_descriptions[at : at + _CHUNK, None] == of_texts[None, :]] = -1.0
                _raise(description_best[at : at + _CHUNK], sims)
        start += len(block)
    return BestCosines(
        negative_best.astype(np.float64),
        probe_best.astype(np.float64),
        description_best.astype(np.float64),
    )


def _raise(best: Vectors, sims: Vectors) -> None:
    """Raise `best` (a view) to each row's best of `sims`."""
    np.maximum(best, sims.max(axis=1), out=best)
