"""Deriving a generation's index from the previous one's: where each tool was before (by
identity), the unchanged tools' documents and per-tool values carried over, and the average
pattern field lengths updated by the patterns that came and went (whole numbers, so the index
is the one a build from nothing makes).
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.model.tool import Tool
from toolcatalog.selection.arrays import IntArray
from toolcatalog.selection.bm25 import BM25FIndex, Component
from toolcatalog.selection.documents import PATTERN_FIELDS, PatternDoc

_PATTERN_FIELD_NAMES = tuple(PATTERN_FIELDS)
# positions_in takes tools at the same places as kept when at most this many differ.
MAX_PLACES_CHANGED = 64


class Docs(Sequence[Sequence[Component]]):
    """The documents of a new index's tools: the changed ones' as just built (`built`, by
    position), the others' made again by the previous BM25F index (`moved`: each tool's
    position there, see positions_in). BM25FIndex asks only for those it does not reuse."""

    def __init__(
        self, built: dict[int, list[Component]], previous: BM25FIndex | None, moved: IntArray
    ) -> None:
        self._built, self._previous, self._moved = built, previous, moved

    def __len__(self) -> int:
        return len(self._moved)

    def __getitem__(self, i: int) -> list[Component]:  # type: ignore[override]
        found = self._built.get(i)
        if found is not None:
            return found
        if self._previous is None or self._moved[i] < 0:
            raise IndexError(i)
        return self._previous.document(int(self._moved[i]))


@dataclass(frozen=True, slots=True)
class Positions:
    """Where each tool of a new generation was in the previous one's tools (see
    positions_in)."""

    at: IntArray  # per tool, its position before when the same object is there, else -1
    changed: list[int]  # the tools at -1 (new, changed or moved), ascending
    dropped: list[int]  # the positions before that no tool kept, ascending
    in_place: bool  # as many tools as before, each kept one at its own position

    @classmethod
    def kept(cls, n: int) -> Positions:
        """Every one of `n` tools where it was."""
        return cls(np.arange(n, dtype=np.int64), [], [], True)


def identical(before: Sequence[Tool], after: Sequence[Tool]) -> npt.NDArray[np.bool_] | None:
    """Per place, whether `after` holds the very tool `before` held there (None when their
    lengths differ): one C-level pass, shared by in_name_order and positions_in (~4 ms at
    100,000 tools each time it was made)."""
    if len(before) != len(after):
        return None
    return np.fromiter(map(operator.is_, before, after), dtype=bool, count=len(after))


def positions_in(
    before: Sequence[Tool],
    after: Sequence[Tool],
    same: npt.NDArray[np.bool_] | None = None,
) -> Positions:
    """For each tool of `after`, its position in `before` when it is the same object there
    (else -1): a catalog version hands unchanged tools on as the same objects. When as many
    tools as before are mostly the same objects at the same places (a write that updated a
    few tools; `same`: identical(before, after) when known), those are kept without a table
    of every tool's identity (a tool a write moved counts as changed then: it is made again,
    the same either way), and without a Python list of every position."""
    if same is None:
        same = identical(before, after)
    if same is not None:
        differ = np.flatnonzero(~same)
        if len(differ) <= MAX_PLACES_CHANGED:
            at = np.arange(len(after), dtype=np.int64)
            at[differ] = -1
            changed = differ.tolist()
            return Positions(at, changed, changed, True)
    where = dict(zip(map(id, before), range(len(before)), strict=True))
    moved = list(map(where.get, map(id, after), repeat(-1)))  # C-level: 100,000 tools a write
    at = np.asarray(moved, dtype=np.int64)
    gone = np.ones(len(before), dtype=bool)
    gone[at[at >= 0]] = False
    in_place = len(before) == len(after) and bool(((at == np.arange(len(at))) | (at < 0)).all())
    return Positions(at, np.flatnonzero(at < 0).tolist(), np.flatnonzero(gone).tolist(), in_place)


def in_name_order(
    before: Sequence[Tool],
    names: tuple[str, ...],
    tools: Sequence[Tool],
    same: npt.NDArray[np.bool_] | None,
) -> tuple[Tool, ...] | None:
    """`tools` as they are when they are already in the name order of `before` (a previous
    index's tools, sorted, with their `names`; `same`: identical(before, tools)): as many
    tools, the same objects at the same places but for at most MAX_PLACES_CHANGED, each of
    those under the name that place had (a write that updated tools: a catalog version lists
    its tools in name order). Then the sort, its names and their table are the previous
    index's (100,000 tools: ~40 ms of a write); None otherwise."""
    if not tools or same is None:
        return None
    changed = np.flatnonzero(~same).tolist()
    if len(changed) > MAX_PLACES_CHANGED or any(tools[i].name != names[i] for i in changed):
        return None
    return tuple(tools)


def str_per_tool(
    before: npt.NDArray[np.str_] | None,
    moved: IntArray,
    tools: Sequence[Tool],
    value: Callable[[Tool], str],
) -> npt.NDArray[np.str_]:
    """per_tool for a string value, kept as a numpy string array throughout: the unchanged
    tools' values are gathered from `before` without a Python string made for each (an
    object array and back was ~50 ms of a write at 100,000 tools). The array is as wide as
    the longest value it held or holds (the values, not the width, are what is read)."""
    if before is None or not len(before) or before.dtype.kind != "U":
        return per_tool(before, moved, tools, value, object).astype(str)
    at = np.asarray(moved, dtype=np.int64)
    changed = np.flatnonzero(at < 0).tolist()
    fresh = [value(tools[i]) for i in changed]
    width = max([before.dtype.itemsize // np.dtype("U1").itemsize, *map(len, fresh)])
    out: npt.NDArray[np.str_] = before.astype(f"<U{width}", copy=False)[np.maximum(at, 0)]
    for i, v in zip(changed, fresh, strict=True):
        out[i] = v
    return out


def per_tool(
    before: npt.NDArray[Any] | None,
    moved: IntArray,
    tools: Sequence[Tool],
    value: Callable[[Tool], object],
    dtype: type,
) -> npt.NDArray[Any]:
    """`value` of each tool, taken from `before` (the previous index's array) for the tools
    that were there (`moved`, see positions_in): only the changed tools are asked."""
    if before is None or not len(before):
        return np.array([value(t) for t in tools], dtype=dtype)
    at = np.asarray(moved, dtype=np.int64)
    out: npt.NDArray[Any] = (
        before.astype(dtype)[np.maximum(at, 0)] if len(at) else np.zeros(0, dtype=dtype)
    )
    for i in np.flatnonzero(at < 0).tolist():
        out[i] = value(tools[i])
    return out


class PatternLengths:
    """The distinct pattern documents (by value) with the total length of each field over
    them: the average pattern field lengths for FieldScorer. Derived from the previous
    generation's by the patterns that came and went; whole numbers, so the averages equal a
    count from nothing."""

    def __init__(self, counts: Counter[PatternDoc], totals: dict[str, int]) -> None:
        self.counts = counts
        self.totals = totals

    @classmethod
    def of(
        cls,
        previous: PatternLengths | None,
        added: Sequence[PatternDoc],
        removed: Sequence[PatternDoc],
    ) -> PatternLengths:
        if previous is None:
            counts: Counter[PatternDoc] = Counter()
            totals = dict.fromkeys(PATTERN_FIELDS, 0)
        elif not added and not removed:
            return previous
        else:
            counts, totals = previous.counts.copy(), dict(previous.totals)
        for doc in removed:
            counts[doc] -= 1
            if not counts[doc]:
                del counts[doc]
                for name, terms in zip(_PATTERN_FIELD_NAMES, doc, strict=True):
                    totals[name] -= len(terms)
        for doc in added:
            counts[doc] += 1
            if counts[doc] == 1:
                for name, terms in zip(_PATTERN_FIELD_NAMES, doc, strict=True):
                    totals[name] += len(terms)
        return cls(counts, totals)

    def averages(self) -> dict[str, float]:
        return {f: t / max(len(self.counts), 1) for f, t in self.totals.items()}
