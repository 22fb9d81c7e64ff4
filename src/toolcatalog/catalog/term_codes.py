"""Every tool's lexemes as one array of integer codes, so that a query of single lexemes (one
word, or words joined by AND or by OR: most searches, and the broad ones that match most
tools) or a phrase is matched and ranked over the whole catalog with numpy, without a Python
step per tool.

The first search of "generated tool" at 100,000 tools checked each tool's terms in Python:
~590 ms of one thread, during which every connection asking it waited (docs/performance.md,
"Session 16 (broad100k)"). Here it is a few scans of one array; the rank (ts_rank, exactly as
search_index computes it) is computed once per distinct count (one lexeme) or per distinct
arrangement of the query's lexemes in a tool (several), which tools made from templates share.

`TermCodes` is made for one version's tools (names sorted). A version made by writes from it
keeps it, with the names changed since (`stale`): those are left out of its answers and
ranked by search_index's per-tool path, as few as a write's tools."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolcatalog.catalog.heap import release_free_memory
from toolcatalog.catalog.lexicon import LEXICON, Lexicon, Terms, code_parts
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.ts_rank import MAXENTRYPOS, rank_and, rank_or

__all__ = ["RARE", "Codes", "TermCodes"]

# A search goes through the codes a block of whole tools at a time, of about this many
# positions (a tool longer than it is a block alone): its booleans are 256 KiB, its arrays
# of occurrences a few hundred KiB, reused by the allocator block after block.
_PART = 1 << 18
# Past this many codes a ranking ends with malloc_trim (~1 ms): the blocks' arrays leave ~14
# MiB free in the ranking thread's malloc arena at 100,000 tools, kept for good without it
# (a worker's memory is counted against 2 GB); the next ranking takes them again (~3,500
# fresh pages, where the whole-catalog arrays took ~10,000-25,000).
_TRIM_MIN = 1 << 20
# The code shared by the lexemes past the 65,535 most frequent.
RARE = (1 << 16) - 1
# A lexicon code that none of the tools holds, in TermCodes' table.
_ABSENT = (1 << 32) - 1


class TermCodes:
    """Lexeme codes of `names`' terms, one uint16 per position, with each tool's start: ~2
    bytes a position (154 positions a generated tool). Codes go by frequency, most frequent
    first; past the 65,535th, lexemes share the code RARE and a query of one of them is left
    to search_index's per-tool path (its few tools: the 65,535th most frequent lexeme of
    100,000 generated tools is in 1)."""

    __slots__ = (
        "_bounds",
        "_codes",
        "_lengths",
        "_lexicon",
        "_starts",
        "_table",
        "_widest",
        "names",
    )

    def __init__(
        self, names: Sequence[str], terms: Sequence[Terms], lexicon: Lexicon = LEXICON
    ) -> None:
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        # Two passes over the terms (a part at a time): each lexicon code's frequency, then
        # the codes renumbered by it.
        frequency = np.zeros(1, dtype=np.int64)
        for found in code_parts(terms):
            counted = np.bincount(found)
            if len(counted) > len(frequency):
                counted[: len(frequency)] += frequency
                frequency = counted
            else:
                frequency[: len(counted)] += counted
        by_frequency = np.empty(len(frequency), dtype=np.int64)
        by_frequency[np.argsort(-frequency, kind="stable")] = np.arange(len(frequency))
        table = np.where(frequency > 0, np.minimum(by_frequency, RARE), _ABSENT)
        self._table = table.astype(np.uint32)
        codes = np.empty(int(lengths.sum()), dtype=np.uint16)
        at = 0
        for found in code_parts(terms):
            codes[at : at + len(found)] = self._table[found]
            at += len(found)
        starts = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        self.names = tuple(names)
        self._lexicon = lexicon
        self._codes, self._starts, self._lengths = codes, starts, lengths
        # The blocks a search goes through: the first tool of each (and one past the last).
        cuts = np.searchsorted(starts, np.arange(0, len(codes), _PART), "right") - 1
        self._bounds = np.unique(np.concatenate(([0], cuts, [len(terms)])))
        self._widest = int(np.diff(starts[self._bounds]).max(initial=0))

    @classmethod
    def of(cls, names: Sequence[str], terms_of: Mapping[str, Terms]) -> TermCodes:
        return cls(names, [terms_of[n] for n in names])

    @property
    def nbytes(self) -> int:
        arrays = (self._codes, self._starts, self._lengths, self._table)
        return sum(int(a.nbytes) for a in arrays)

    def _code(self, lexeme: str) -> int | None:
        """`lexeme`'s code here, None when none of these tools holds it."""
        code = self._lexicon.code(lexeme)
        if code is None or code >= len(self._table):
            return None
        found = int(self._table[code])
        return None if found == _ABSENT else found

    def ranked_all_of(self, items: list[str], leave_out: Collection[str] = ()) -> Ranked | None:
        """The tools holding every lexeme of `items` (query_lexemes: unique, byte order), as
        search_index ranks them, best first (rank descending, then name descending);
        `leave_out`: names whose terms here are stale. None when a lexeme is RARE here."""
        if self._rare(items):
            return None
        ranks = _Ranks(items)
        found: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = []
        for block in self._scan(items, every=True, where=len(items) > 1):
            held = block.holding(len(items))
            if len(items) == 1:
                found.append(block.ranked_by_counts(held, ranks))
            else:
                found.append(block.ranked_near(held, ranks))
        return self._answer(found, leave_out)

    def ranked_any_of(self, items: list[str], leave_out: Collection[str] = ()) -> Ranked | None:
        """`ranked_all_of` for the tools holding any lexeme of `items` (words joined by OR):
        ts_rank's calc_rank_or of their counts, once per distinct counts."""
        if self._rare(items):
            return None
        ranks = _Ranks(items)
        found = [
            block.ranked_by_counts(block.holding(1), ranks)
            for block in self._scan(items, every=False, where=False)
        ]
        return self._answer(found, leave_out)

    def ranked_phrase(
        self, steps: Sequence[tuple[str, int]], items: list[str], leave_out: Collection[str] = ()
    ) -> Ranked | None:
        """`ranked_all_of` for the tools holding the phrase `steps` (text_query.Phrase's:
        each lexeme at its distance from the one before), ranked by all of `items` (the
        phrase's lexemes) as search_index ranks a phrase. Tools of 16,384 positions or more
        (`capped`: their positions are capped) are left out, for the caller to rank."""
        if self._rare(items):
            return None
        ranks = _Ranks(items)
        index = {lexeme: j for j, lexeme in enumerate(items)}
        path = [(index[lexeme], distance) for lexeme, distance in steps]
        found = []
        for block in self._scan(items, every=True, where=True):
            held = block.holding(len(items)) & (block.lengths < MAXENTRYPOS)
            matched = block.phrase(path, held)
            if len(items) == 1:  # one lexeme repeated: ranked by its count
                found.append(block.ranked_by_counts(matched, ranks))
            else:
                found.append(block.ranked_near(matched, ranks))
        return self._answer(found, leave_out)

    @property
    def capped(self) -> tuple[str, ...]:
        """The names of the tools of 16,384 positions or more (ts_rank caps their positions)."""
        return tuple(self.names[i] for i in np.flatnonzero(self._lengths >= MAXENTRYPOS))

    def _rare(self, items: list[str]) -> bool:
        return any(self._code(lexeme) == RARE for lexeme in items)

    def _scan(self, items: list[str], *, every: bool, where: bool) -> Iterator[_Block]:
        """The blocks (runs of whole tools, ~_PART positions each) holding the lexemes of
        `items`: `every` asks for blocks holding each of them (the others hold no answer),
        else for those holding any; `where`: with each occurrence's tool and lexeme.

        A block's arrays are small and freed before the next, so a ranking reuses a few
        hundred KiB of the allocator's memory block after block. Arrays of every occurrence
        in the catalog (int64, ~100 MB of them for "generated tool" at 100,000 tools) were
        fresh pages the kernel zeroed at each new search, up to ~0.5 s of system time at
        load 8 (docs/performance.md, "Session 19 (broad19)")."""
        asked = [(j, code) for j, code in enumerate(map(self._code, items)) if code is not None]
        if not asked or (every and len(asked) < len(items)):
            return
        size = len(items)
        codes = np.array([code for _, code in asked], dtype=np.uint16)
        order = np.argsort(codes)
        sorted_codes = codes[order]
        column = np.array([j for j, _ in asked], dtype=np.int64)[order]
        starts, bounds = self._starts, self._bounds
        hit = np.empty(self._widest, dtype=np.bool_)
        also = np.empty(self._widest, dtype=np.bool_)
        for first, last in itertools.pairwise(bounds.tolist()):
            begin, end = int(starts[first]), int(starts[last])
            part = self._codes[begin:end]
            here = hit[: end - begin]
            np.equal(part, sorted_codes[0], out=here)
            for code in sorted_codes[1:]:
                np.equal(part, code, out=also[: end - begin])
                here |= also[: end - begin]
            at = np.flatnonzero(here)
            if len(at) == 0:
                continue
            local = starts[first : last + 1] - begin
            lengths = self._lengths[first:last]
            if not where and len(asked) == 1:  # each tool's count: one binary search a tool
                counts = np.zeros((last - first, size), dtype=np.int64)
                counts[:, column[0]] = np.diff(np.searchsorted(at, local))
                yield _Block(first, at, None, None, counts, local, lengths)
                continue
            owner = np.repeat(np.arange(last - first), np.diff(np.searchsorted(at, local)))
            which = column[np.searchsorted(sorted_codes, part[at])] if len(asked) > 1 else None
            flat = owner * size + (column[0] if which is None else which)
            counts = np.bincount(flat, minlength=(last - first) * size)
            yield _Block(first, at, owner, which, counts.reshape(-1, size), local, lengths)

    def _answer(
        self,
        found: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]],
        leave_out: Collection[str],
    ) -> Ranked:
        """The blocks' `found` (tools ascending, their ranks), less `leave_out`, in the
        database's order."""
        names = self.names
        tools = np.concatenate([t for t, _ in found]) if found else np.empty(0, dtype=np.int64)
        ranks = np.concatenate([r for _, r in found]) if found else _NO_RANKS
        if leave_out:
            indexes = [bisect_left(names, n) for n in leave_out]
            gone = [i for i, n in zip(indexes, leave_out, strict=True) if names[i : i + 1] == (n,)]
            kept = ~np.isin(tools, gone)
            tools, ranks = tools[kept], ranks[kept]
        # Rank descending, then index descending: the tools reversed (descending), then
        # sorted stably by the ranks negated.
        tools, lowered = tools[::-1], np.negative(ranks[::-1])
        order = np.argsort(lowered, kind="stable")
        ranked = Ranked(lowered[order], tools[order].astype(np.int32), names, [])
        found.clear()
        del tools, ranks, lowered, order
        if len(self._codes) >= _TRIM_MIN:
            release_free_memory()
        return ranked


_NO_RANKS = np.empty(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Codes:
    """A version's tools' TermCodes, and the names put or removed since they were made."""

    codes: TermCodes
    stale: frozenset[str]


class _Ranks:
    """ts_rank's values for one query's `items`, each computed once: by counts (calc_rank_or)
    and by arrangement (calc_rank_and: each lexeme's positions from the first of them, as
    `_Block.ranked_near` packs them)."""

    __slots__ = ("_by_arrangement", "_by_counts", "items")

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self._by_counts: dict[tuple[int, ...], float] = {}
        self._by_arrangement: dict[bytes, float] = {}

    def of_counts(self, counts: tuple[int, ...]) -> float:
        found = self._by_counts.get(counts)
        if found is None:
            found = self._by_counts[counts] = rank_or(self.items, counts)
        return found

    def of_arrangement(self, packed: npt.NDArray[np.int64]) -> float:
        """The rank of one tool's occurrences `packed` (lexeme << 16 | position from the
        first, in order of position)."""
        key = packed.tobytes()
        found = self._by_arrangement.get(key)
        if found is None:
            which, where = packed >> 16, packed & 0xFFFF
            positions = tuple(tuple(where[which == j].tolist()) for j in range(len(self.items)))
            found = self._by_arrangement[key] = rank_and(positions)
        return found


@dataclass(frozen=True, slots=True)
class _Block:
    """The query lexemes' occurrences in tools `first`.. of the codes: `at` (ascending,
    from the block's first position), each one's tool in the block (`owner`) and query
    lexeme (`which`, None: the one asked), each tool's count of each (`counts`, a row a
    tool), each tool's start (`starts`, one past the last too) and its length."""

    first: int
    at: npt.NDArray[np.int64]
    owner: npt.NDArray[np.int64] | None
    which: npt.NDArray[np.int64] | None
    counts: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]

    def holding(self, least: int) -> npt.NDArray[np.bool_]:
        """Which tools hold at least `least` of the query lexemes."""
        held: npt.NDArray[np.bool_] = np.count_nonzero(self.counts, axis=1) >= least
        return held

    def ranked_by_counts(
        self, held: npt.NDArray[np.bool_], ranks: _Ranks
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The `held` tools and their ranks by their counts (once per distinct counts)."""
        tools = np.flatnonzero(held)
        counts = self.counts[tools]
        if counts.shape[1] == 1:
            distinct, group = np.unique(counts[:, 0], return_inverse=True)
            values = [ranks.of_counts((c,)) for c in distinct.tolist()]
        else:
            distinct, group = np.unique(counts, axis=0, return_inverse=True)
            values = [ranks.of_counts(tuple(row)) for row in distinct.tolist()]
        return tools + self.first, np.array(values, dtype=np.float32)[group.reshape(-1)]

    def phrase(
        self, path: list[tuple[int, int]], held: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """The `held` tools holding the phrase `path` (each query lexeme's index and its
        distance from the one before): each occurrence of the first lexeme kept while the
        next ones stand at their distances after it, in the same tool."""
        matched = np.zeros(len(held), dtype=np.bool_)
        if not held.any():
            return matched
        at, owner, which = self.at, self.owner, self.which
        assert owner is not None  # scanned with `where`
        kept = held[owner] if which is None else held[owner] & (which == path[0][0])
        where, owner = at[kept], owner[kept]
        end = self.starts[owner + 1]
        for j, distance in path[1:]:
            there = at if which is None else at[which == j]
            where = where + distance
            found = np.minimum(np.searchsorted(there, where), len(there) - 1)
            kept = (where < end) & (there[found] == where)
            where, owner, end = where[kept], owner[kept], end[kept]
        matched[owner] = True
        return matched

    def ranked_near(
        self, held: npt.NDArray[np.bool_], ranks: _Ranks
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The `held` tools (each holds every query lexeme) and their ranks by arrangement
        (each lexeme's positions from the first of them), computed once per distinct
        arrangement: tools are grouped by a hash of theirs, each compared with its group's
        first, element by element (exact: a tool that differs is ranked on its own)."""
        tools = np.flatnonzero(held)
        if len(tools) == 0:
            return tools, _NO_RANKS
        at, owner, which = self.at, self.owner, self.which
        assert owner is not None  # scanned `where`
        assert which is not None  # several lexemes
        if len(tools) < len(held):
            kept = held[owner]
            at, owner, which = at[kept], owner[kept], which[kept]
        total = self.counts[tools].sum(axis=1)
        seg = np.zeros(len(tools) + 1, dtype=np.int64)
        np.cumsum(total, out=seg[1:])
        position = at - self.starts[owner]  # 0-based
        if self.lengths[tools].max() >= MAXENTRYPOS:  # ts_rank counts 16,383 past it
            position = np.minimum(position, MAXENTRYPOS - 2)
        position -= np.repeat(position[seg[:-1]], total)
        packed = (which << 16) | position
        hashed = np.add.reduceat(_mixed(packed.astype(np.uint64)), seg[:-1])
        _, leader, group = np.unique(hashed, return_index=True, return_inverse=True)
        group = group.reshape(-1)
        lead = leader[group]  # each tool's group's first tool
        same = total == total[lead]
        # Each occurrence against the one at the same offset in its leader's run (a
        # differing length is already caught: those compare within bounds, any value).
        there = np.repeat(seg[lead] - seg[:-1], total)
        there += np.arange(len(packed))
        np.minimum(there, len(packed) - 1, out=there)
        odd = np.flatnonzero(packed != packed[there])
        same[np.searchsorted(seg, odd, "right") - 1] = False
        values = [ranks.of_arrangement(packed[seg[t] : seg[t + 1]]) for t in leader.tolist()]
        found = np.array(values, dtype=np.float32)[group]
        for t in np.flatnonzero(~same).tolist():
            found[t] = ranks.of_arrangement(packed[seg[t] : seg[t + 1]])
        return tools + self.first, found


# splitmix64's finaliser: each occurrence (query lexeme, position from the tool's first)
# packed into one uint64 is mixed, then a tool's are summed: its arrangement's hash. A
# linear mix made arrangements of equal sums collide (5 of 1,311 tools in the tests).
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mixed(value: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    value = value ^ (value >> np.uint64(30))
    value *= _MIX[0]
    value ^= value >> np.uint64(27)
    value *= _MIX[1]
    value ^= value >> np.uint64(31)
    return value
