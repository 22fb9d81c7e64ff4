"""The interned texts of a BM25F index: each distinct component's terms counted once, as flat
arrays of term ids and counts that every build of the same catalog extends (see bm25.BM25FIndex).

Catalogs repeat their texts a lot (capability and pattern descriptions, vocabulary entries shared
by many tools), so each distinct component is interned and counted once and documents refer to
it: building the index of 10,000 generated tools went from 2.9 s (one token at a time) to about
0.5 s.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import chain, count
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray, IntArray

_RECENT = 4096

Terms = tuple[str, ...]

_Flat = tuple[FloatArray, IntArray, IntArray, npt.NDArray[np.int32], npt.NDArray[np.float32]]


class Interned:
    """Distinct component term lists, each interned and counted once. Keyed by the tuple's
    identity: the tokeniser's caches hand out one tuple per distinct text, and hashing long
    tuples of terms cost more than the counting it saved. Carried from one build to the next
    of the same catalog (see BM25FIndex), so a write counts only its tool's new texts; one
    build at a time uses it (`lock`)."""

    def __init__(self) -> None:
        # A term's id is the vocabulary's size when first seen: interning stays in C (map).
        self.vocab: defaultdict[str, int] = defaultdict(count().__next__)
        self.keep: list[Terms] = []  # holds each keyed tuple, so its id cannot be reused
        # Where each kept tuple is in `keep`, by its id: two arrays sorted by id (16 bytes an
        # entry; a dict of them held ~100, 1.4 KiB a generated tool: ~15 distinct texts
        # each), and a dict of those added since, merged into the arrays by `arrays` once
        # it holds over _RECENT and a 16th of them (a write adds a few: not a sort each).
        self._recent: dict[int, int] = {}
        self._ids = np.zeros(0, dtype=np.int64)
        self._at = np.zeros(0, dtype=np.int64)
        self.used = 0  # distinct components the last build used
        self.lock = threading.Lock()
        self._terms: list[list[int]] = []  # components added since the last `arrays`
        self._counts: list[list[int]] = []
        self._lengths: list[int] = []
        # Term ids and counts are held as int32 and float32 (whole numbers, exact): 8 bytes
        # a (component, term) row instead of 16, kept between builds.
        # The arrays' buffers, each with room past its end that a later `arrays` writes the
        # new components into (None: not made yet): a write appends a few components, and a
        # copy of every array per write was ~17 MB of fresh pages at 100,000 tools. Views
        # handed out before never see the room written: they end where it begins.
        self._room: tuple[npt.NDArray[Any], ...] | None = None
        self._arrays: _Flat = (
            np.zeros(0, dtype=np.float64),
            np.zeros(0, dtype=np.int64),
            np.zeros(1, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.float32),
        )

    def copy(self) -> Interned:
        """A copy to save (selection/saved_index.py) while builds go on using this one: taken
        under `lock` (a build adds to it), of the lists and tables only (the term tuples and
        arrays are shared: nothing changes them)."""
        with self.lock:
            self.arrays()
            out = Interned()
            out.vocab = defaultdict(count(len(self.vocab)).__next__, self.vocab)
            out.keep = list(self.keep)
            out._recent, out._ids, out._at = dict(self._recent), self._ids, self._at
            out.used, out._arrays = self.used, self._arrays  # no room: its own when it grows
        return out

    def __getstate__(self) -> dict[str, object]:
        # `seen` is keyed by the identity of the tuples in `keep`, which a load changes, and
        # a lock is not data: both are made again by __setstate__.
        return {
            "vocab": dict(self.vocab),
            "keep": self.keep,
            "used": self.used,
            "arrays": self.arrays(),
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]
        vocab: dict[str, int] = state["vocab"]  # type: ignore[assignment]
        # Ids go on from the loaded ones, in the order they were given (0, 1, ...).
        self.vocab = defaultdict(count(len(vocab)).__next__, vocab)
        self.hold(state["keep"])  # type: ignore[arg-type]
        self.used = state["used"]  # type: ignore[assignment]
        self._arrays = state["arrays"]  # type: ignore[assignment]

    def hold(self, keep: list[Terms]) -> None:
        """Hold `keep` as the interned texts (loaded apart from the rest: see
        CatalogIndex.saved_state), each keyed by its identity."""
        self.keep = keep
        self._recent = {}
        self._sort(
            np.fromiter(map(id, keep), dtype=np.int64, count=len(keep)), np.arange(len(keep))
        )

    def _sort(self, ids: IntArray, at: IntArray) -> None:
        order = np.argsort(ids)
        self._ids, self._at = ids[order], at[order]

    def ids(self, components: Sequence[Terms]) -> list[int]:
        """The component id of each of `components`, adding those not seen before."""
        keys = list(map(id, components))
        found = [-1] * len(keys)
        if len(self._ids):
            wanted = np.asarray(keys, dtype=np.int64)
            at = np.minimum(np.searchsorted(self._ids, wanted), len(self._ids) - 1)
            found = np.where(self._ids[at] == wanted, self._at[at], -1).tolist()
        for k, where in enumerate(found):
            if where < 0:
                where = self._recent.get(keys[k], -1)
                found[k] = where if where >= 0 else self._add(keys[k], components[k])
        return found

    def _add(self, key: int, terms: Terms) -> int:
        self.keep.append(terms)
        counted = Counter(terms)  # counts in C; only distinct terms are interned
        at = self._recent[key] = len(self.keep) - 1
        self._terms.append(list(map(self.vocab.__getitem__, counted)))
        self._counts.append(list(counted.values()))
        self._lengths.append(len(terms))
        return at

    def arrays(self) -> _Flat:
        """Per component: its length, its number of distinct terms and where they start in
        the flat arrays of term ids and counts; then those two flat arrays."""
        if len(self._recent) > max(_RECENT, len(self._ids) >> 4):
            ids = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
            at = np.fromiter(self._recent.values(), dtype=np.int64, count=len(self._recent))
            self._sort(np.concatenate((self._ids, ids)), np.concatenate((self._at, at)))
            self._recent = {}
        if not self._lengths:
            return self._arrays
        new_n = np.fromiter(map(len, self._terms), dtype=np.int64, count=len(self._terms))
        flat = int(new_n.sum())
        added = (
            np.asarray(self._lengths, dtype=np.float64),
            new_n,
            self._arrays[2][-1] + np.cumsum(new_n),
            np.fromiter(chain.from_iterable(self._terms), dtype=np.int32, count=flat),
            np.fromiter(chain.from_iterable(self._counts), dtype=np.float32, count=flat),
        )
        self._arrays, self._room = _appended(self._arrays, self._room, added)  # type: ignore[assignment]
        self._terms, self._counts, self._lengths = [], [], []
        return self._arrays


def _appended(
    held: Sequence[npt.NDArray[Any]],
    room: tuple[npt.NDArray[Any], ...] | None,
    added: Sequence[npt.NDArray[Any]],
) -> tuple[tuple[npt.NDArray[Any], ...], tuple[npt.NDArray[Any], ...]]:
    """Each of `held` with its `added` values after it, as views of buffers with room past
    their ends: `room` (the buffers `held` are views of) when they have it, else new ones an
    eighth larger than needed, `held` copied in. Returns the views and their buffers."""
    views, buffers = [], []
    for k, (array, values) in enumerate(zip(held, added, strict=True)):
        size, need = len(array), len(array) + len(values)
        buffer = room[k] if room is not None else None
        if buffer is None or len(buffer) < need:
            buffer = np.empty(need + (need >> 3) + 1024, dtype=array.dtype)
            buffer[:size] = array
        buffer[size:need] = values
        views.append(buffer[:need])
        buffers.append(buffer)
    return tuple(views), tuple(buffers)
