"""A search's ranking, (rank, name) best first, held as two small arrays (each tool's rank and
its index in the version's sorted names) with a few (rank, name) pairs merged in: a page makes
tuples only for the tools it shows.

A broad search's first answer at 100,000 tools made 100,000 (rank, name) tuples in the ranking
thread (~15-20 ms of CPU holding the GIL, and as long again to free them with the version),
for a page of 50 (docs/performance.md, "Session 18 (broad18)")."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

__all__ = ["Ranked"]

_NONE_F = np.empty(0, dtype=np.float32)
_NONE_I = np.empty(0, dtype=np.int32)


class Ranked(Sequence[tuple[float, str]]):
    """Every matching tool as (rank, name), best first as the database orders them: rank
    descending, then name descending. Made of `lowered` (the ranks negated: ascending) and
    `tools` (indexes into `names`, which are sorted) in that order, and `extras`: (rank,
    name) pairs, best first, of tools not among `tools` (ranked apart: changed since the
    arrays were made, or every match of a query ranked tool by tool), merged in where they
    belong.

    Ranks are ts_rank's float4 values (ts_rank.py), so float32 holds them exactly."""

    __slots__ = ("_at", "_extras", "_lowered", "_names", "_tools")

    def __init__(
        self,
        lowered: npt.NDArray[np.float32],
        tools: npt.NDArray[np.int32],
        names: tuple[str, ...],
        extras: list[tuple[float, str]],
    ) -> None:
        self._lowered, self._tools, self._names, self._extras = lowered, tools, names, extras
        # Where each extra stands in the whole ranking (ascending).
        self._at: Sequence[int] = (
            range(len(extras))
            if len(tools) == 0
            else [self._above(r, n) + k for k, (r, n) in enumerate(extras)]
        )

    @classmethod
    def of(cls, found: list[tuple[float, str]]) -> Ranked:
        """`found`, already best first, as a Ranked (every pair an extra: no arrays)."""
        return cls(_NONE_F, _NONE_I, (), found)

    def __len__(self) -> int:
        return len(self._tools) + len(self._extras)

    @overload
    def __getitem__(self, index: int) -> tuple[float, str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[float, str]]: ...

    def __getitem__(self, index: int | slice) -> tuple[float, str] | list[tuple[float, str]]:
        if isinstance(index, slice):
            begin, end, step = index.indices(len(self))
            if step != 1:
                return self[begin:end][::step]
            return self._run(begin, end)
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("Ranked index out of range")
        return self._run(index, index + 1)[0]

    def __iter__(self) -> Iterator[tuple[float, str]]:
        return iter(self._run(0, len(self)))

    def without(self, gone: Collection[str]) -> Ranked:
        """This ranking less the tools named in `gone` (names not in it are ignored)."""
        names = self._names
        indexes = [bisect_left(names, n) for n in gone]
        found = [i for i, n in zip(indexes, gone, strict=True) if names[i : i + 1] == (n,)]
        lowered, tools = self._lowered, self._tools
        if found:
            kept = ~np.isin(tools, np.array(found, dtype=np.int32))
            lowered, tools = lowered[kept], tools[kept]
        extras = [item for item in self._extras if item[1] not in gone]
        return Ranked(lowered, tools, names, extras)

    def merged(self, came: list[tuple[float, str]]) -> Ranked:
        """This ranking with `came` (tools not in it) merged in where they belong."""
        if not came:
            return self
        extras = [*self._extras, *came]
        extras.sort(reverse=True)  # a few pairs into a sorted list: linear (its runs)
        return Ranked(self._lowered, self._tools, self._names, extras)

    def _above(self, rank: float, name: str) -> int:
        """How many of the arrays' tools rank before (rank, name): a better rank, or the same
        rank and a later name (a greater index: the names are sorted)."""
        lowered = self._lowered
        key = np.float32(-rank)
        lo = int(np.searchsorted(lowered, key, "left"))
        hi = int(np.searchsorted(lowered, key, "right"))
        if lo == hi:
            return lo
        # Tied tools go by index descending: those past `name` come first.
        first_after = bisect_right(self._names, name)
        return bisect_right(self._tools, -first_after, lo, hi, key=_negated)

    def _run(self, begin: int, end: int) -> list[tuple[float, str]]:
        """Items begin..end-1 (0 <= begin <= end <= len), arrays' and extras' merged."""
        at, extras, names = self._at, self._extras, self._names
        lowered, tools = self._lowered, self._tools
        if len(tools) == 0:
            return extras[begin:end]
        found: list[tuple[float, str]] = []
        j = bisect_left(at, begin)  # extras before `begin`
        i = begin
        while i < end:
            if j < len(at) and at[j] == i:
                found.append(extras[j])
                i, j = i + 1, j + 1
                continue
            stop = min(end, at[j]) if j < len(at) else end
            part = slice(i - j, stop - j)
            found.extend(
                zip(
                    np.negative(lowered[part]).tolist(),
                    map(names.__getitem__, tools[part].tolist()),
                    strict=True,
                )
            )
            i = stop
        return found


def _negated(value: np.int32) -> int:
    return -int(value)
