"""A MiniLMEncoder without the model, for tests of what surrounds the encoder."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from toolcatalog.selection.encoders.minilm import MiniLMEncoder

Answer = Callable[[Sequence[str], int], np.ndarray]


class StubEncoder(MiniLMEncoder):
    """Records every text `encode` is given and answers `answer(texts, call number)`, whose
    vectors have `hidden` (3) dimensions; it may raise instead."""

    hidden = 3

    def __init__(self, answer: Answer) -> None:  # no model files are read
        self.answer = answer
        self.texts: list[str] = []
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.calls += 1
        self.texts += texts
        return self.answer(texts, self.calls)


def seeded(text: str) -> np.ndarray:
    """A deterministic unit vector per text (of the stub's 3 dimensions)."""
    seed = sum(ord(c) * (k + 1) for k, c in enumerate(text)) % (2**32)
    v = np.random.default_rng(seed).standard_normal(3).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v)
    return out


def filled(value: Callable[[int], float]) -> Answer:
    """An answer whose vectors are all `value(call number)`."""
    return lambda texts, call: np.full((len(texts), 3), value(call), dtype=np.float32)
