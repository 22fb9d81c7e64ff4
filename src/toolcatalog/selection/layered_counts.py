"""Counts by key (the catalog's words for the speller, its chunks for hosts.without_hosts)
carried from one generation to the next without a copy of them all per write: a base shared
with the earlier generations and this generation's own changes since. A write's changes are
a few keys; a copy of the whole table was ~40 % of a 20,000-tool write's semantic update in
the speller's two Counters and the chunks' one (cProfile, bench/scale.py's tools)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

# The changes are folded into a new base once they hold more keys than this plus the base's
# keys over FOLD_SHARE: a write copies its few changed keys, and the whole table about once
# per FOLD_SHARE-th of it changed (amortized, a key changed costs a few copies of a key).
FOLD_MIN = 4_096
FOLD_SHARE = 8


class LayeredCounts(Mapping[str, int]):
    """Counts of keys: those of `base` (never changed once given here: shared by the
    generations derived from it) plus `changes`. Only keys with a count over 0 are in it
    (a count that falls to 0 leaves, as Counter's callers here delete it). Read-only once
    published; `add` is for the one who `derived` it, before handing it on."""

    __slots__ = ("_base", "_changes")

    def __init__(self, base: Mapping[str, int], changes: dict[str, int] | None = None) -> None:
        self._base = base
        self._changes: dict[str, int] = {} if changes is None else changes

    def derived(self) -> LayeredCounts:
        """A copy to `add` to: the changes copied (a few keys a write), the base shared;
        past the fold size, a new base with the changes in it."""
        changes = self._changes
        if len(changes) <= FOLD_MIN + len(self._base) // FOLD_SHARE:
            return LayeredCounts(self._base, dict(changes))
        base = dict(self._base)
        for key, change in changes.items():
            count = base.get(key, 0) + change
            if count > 0:
                base[key] = count
            else:
                base.pop(key, None)
        return LayeredCounts(base)

    def add(self, key: str, change: int) -> None:
        """Count `key` `change` more times (less when negative)."""
        total = self._changes.get(key, 0) + change
        if total:
            self._changes[key] = total
        else:
            self._changes.pop(key, None)

    def __getitem__(self, key: str) -> int:
        count = self._base.get(key, 0) + self._changes.get(key, 0)
        if count <= 0:
            raise KeyError(key)
        return count

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._base.get(key, 0) + self._changes.get(key, 0) > 0

    def __iter__(self) -> Iterator[str]:
        changes, base = self._changes, self._base
        for key, count in base.items():
            if count + changes.get(key, 0) > 0:
                yield key
        for key, change in changes.items():
            if key not in base and change > 0:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)
