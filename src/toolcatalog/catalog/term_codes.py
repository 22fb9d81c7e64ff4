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

from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolcatalog.catalog.heap import release_free_memory
from toolcatalog.catalog.lexicon import LEXICON, Lexicon, Terms, code_parts
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.ts_rank import MAXENTRYPOS, rank_and, rank_or

__all__ = ["RARE", "Codes", "TermCodes"]

# Codes compared with a lexeme's per part (256 Ki positions: 256 KiB of booleans).
_PART = 1 << 18
# A ranking's temporaries (int64 a query lexeme's occurrence: ~14 MB each for "tool" at
# 100,000 tools) stay in the ranking thread's malloc arena once freed: +60 MiB of RSS after
# one broad search at 100,000 tools, handed back by malloc_trim (~ms) past this many codes.
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

    __slots__ = ("_codes", "_lengths", "_lexicon", "_starts", "_table", "names")

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
        occurrences = [self._occurrences(lexeme) for lexeme in items]
        counts = [self._counts(at) for at in occurrences]
        held = counts[0] > 0
        for each in counts[1:]:
            held &= each > 0
        return self._answer(*self._ranked(items, occurrences, counts, held), leave_out)

    def ranked_any_of(self, items: list[str], leave_out: Collection[str] = ()) -> Ranked | None:
        """`ranked_all_of` for the tools holding any lexeme of `items` (words joined by OR):
        ts_rank's calc_rank_or of their counts, once per distinct counts."""
        if self._rare(items):
            return None
        counts = [self._counts(self._occurrences(lexeme)) for lexeme in items]
        held = counts[0] > 0
        for each in counts[1:]:
            held |= each > 0
        tools = np.flatnonzero(held)
        each_count = np.stack([c[tools] for c in counts], axis=1)
        distinct, which = np.unique(each_count, axis=0, return_inverse=True)
        values = np.array([rank_or(items, row) for row in distinct.tolist()], dtype=np.float64)
        return self._answer(tools, values[which.reshape(-1)], leave_out)

    def ranked_phrase(
        self, steps: Sequence[tuple[str, int]], items: list[str], leave_out: Collection[str] = ()
    ) -> Ranked | None:
        """`ranked_all_of` for the tools holding the phrase `steps` (text_query.Phrase's:
        each lexeme at its distance from the one before), ranked by all of `items` (the
        phrase's lexemes) as search_index ranks a phrase. Tools of 16,384 positions or more
        (`capped`: their positions are capped) are left out, for the caller to rank."""
        if self._rare(items):
            return None
        occurrences = {lexeme: self._occurrences(lexeme) for lexeme in items}
        counts = {lexeme: self._counts(at) for lexeme, at in occurrences.items()}
        held = np.ones(len(self.names), dtype=np.bool_)
        for each in counts.values():
            held &= each > 0
        held &= self._lengths < MAXENTRYPOS
        # Each occurrence of the first lexeme in a tool holding them all, kept while the
        # next lexemes stand at their distances after it, in the same tool.
        starts = self._starts
        at = occurrences[steps[0][0]]
        owner = np.searchsorted(starts, at, "right") - 1
        kept = held[owner]
        at, owner = at[kept], owner[kept]
        end = starts[owner + 1]
        for lexeme, distance in steps[1:]:
            at = at + distance
            there = occurrences[lexeme]
            found = np.minimum(np.searchsorted(there, at), len(there) - 1)
            kept = (at < end) & (there[found] == at)
            at, owner, end = at[kept], owner[kept], end[kept]
        matched = np.zeros(len(self.names), dtype=np.bool_)
        matched[owner] = True
        return self._answer(
            *self._ranked(items, list(occurrences.values()), list(counts.values()), matched),
            leave_out,
        )

    @property
    def capped(self) -> tuple[str, ...]:
        """The names of the tools of 16,384 positions or more (ts_rank caps their positions)."""
        return tuple(self.names[i] for i in np.flatnonzero(self._lengths >= MAXENTRYPOS))

    def _rare(self, items: list[str]) -> bool:
        return any(self._code(lexeme) == RARE for lexeme in items)

    def _counts(self, at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Each tool's occurrences of a lexeme found `at`: the run of them between its start
        and the next (one binary search a tool, not one an occurrence)."""
        return np.diff(np.searchsorted(at, self._starts))

    def _answer(
        self,
        tools: npt.NDArray[np.int64],
        ranks: npt.NDArray[np.float64],
        leave_out: Collection[str],
    ) -> Ranked:
        """`tools` ranked `ranks`, less `leave_out`, in the database's order."""
        names = self.names
        if leave_out:
            indexes = [bisect_left(names, n) for n in leave_out]
            gone = [i for i, n in zip(indexes, leave_out, strict=True) if names[i : i + 1] == (n,)]
            kept = ~np.isin(tools, gone)
            tools, ranks = tools[kept], ranks[kept]
        order = np.lexsort((-tools, -ranks))
        lowered = np.negative(ranks[order]).astype(np.float32)
        found = Ranked(lowered, tools[order].astype(np.int32), names, [])
        del tools, ranks, order
        if len(self._codes) >= _TRIM_MIN:
            release_free_memory()
        return found

    def _occurrences(self, lexeme: str) -> npt.NDArray[np.int64]:
        """Where `lexeme` stands in the codes, ascending: compared a part at a time, so the
        comparison's booleans stay one small buffer (the whole array's, 15 MB at 100,000
        tools, was fresh pages each search: 2-5x the time of the scan)."""
        code = self._code(lexeme)
        if code is None:
            return np.empty(0, dtype=np.int64)
        codes = self._codes
        equal = np.empty(min(_PART, len(codes)), dtype=np.bool_)
        found = []
        for begin in range(0, len(codes), _PART):
            part = codes[begin : begin + _PART]
            here = equal[: len(part)]
            np.equal(part, code, out=here)
            found.append(np.flatnonzero(here) + begin)
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def _ranked(
        self,
        items: list[str],
        occurrences: list[npt.NDArray[np.int64]],
        counts: list[npt.NDArray[np.int64]],
        held: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The `held` tools (each holds every lexeme of `items`) and their ranks by all of
        `items`: by count (one lexeme) or by arrangement (several)."""
        tools = np.flatnonzero(held)
        if len(tools) == 0:
            return tools, np.empty(0, dtype=np.float64)
        if len(items) == 1:
            distinct, which = np.unique(counts[0][tools], return_inverse=True)
            values = np.array([rank_or(items, (int(c),)) for c in distinct], dtype=np.float64)
            return tools, values[which.reshape(-1)]
        runs = [
            self._runs(at, count, held, tools)
            for at, count in zip(occurrences, counts, strict=True)
        ]
        return tools, _ranked_near(runs)

    def _runs(
        self,
        at: npt.NDArray[np.int64],
        count: npt.NDArray[np.int64],
        held: npt.NDArray[np.bool_],
        tools: npt.NDArray[np.int64],
    ) -> _Runs:
        """One lexeme's positions in the `tools` (every one holds it), as search_index's
        _positions finds them: 1-based, capped at 16,383 in a tool of 16,384 or more."""
        owner = np.repeat(np.arange(len(count), dtype=np.int64), count)
        if len(tools) < np.count_nonzero(count):  # some tools holding it are not asked for
            kept = held[owner]
            owner, at = owner[kept], at[kept]
        position = at - self._starts[owner] + 1
        if self._lengths[tools].max() >= MAXENTRYPOS:
            capped = self._lengths[owner] >= MAXENTRYPOS
            position = np.where(capped, np.minimum(position, MAXENTRYPOS - 1), position)
        length = count[tools]
        start = np.zeros(len(tools), dtype=np.int64)
        np.cumsum(length[:-1], out=start[1:])
        return _Runs(position, start, length)


@dataclass(frozen=True, slots=True)
class Codes:
    """A version's tools' TermCodes, and the names put or removed since they were made."""

    codes: TermCodes
    stale: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Runs:
    """One query lexeme's positions in each matching tool: tool i's are
    position[start[i] : start[i] + length[i]], ascending."""

    position: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    length: npt.NDArray[np.int64]

    def of(self, i: int, first: int) -> tuple[int, ...]:
        begin = int(self.start[i])
        here = self.position[begin : begin + int(self.length[i])] - first
        return tuple(here.tolist())


# splitmix64's finaliser: each occurrence (lexeme, offset in its run, relative position)
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


def _ranked_near(runs: list[_Runs]) -> npt.NDArray[np.float64]:
    """rank_and of each tool's arrangement (its query lexemes' positions from the first of
    them), computed once per distinct arrangement: tools are grouped by a hash of theirs, and
    each is compared with its group's first, element by element (exact: a tool that differs
    is ranked on its own)."""
    first = runs[0].position[runs[0].start]
    for each in runs[1:]:
        first = np.minimum(first, each.position[each.start])
    size = len(first)
    hashed = np.zeros(size, dtype=np.uint64)
    relative = []
    for j, each in enumerate(runs):
        rel = each.position - np.repeat(first, each.length)
        offset = np.arange(len(rel), dtype=np.int64) - np.repeat(each.start, each.length)
        packed = (np.int64(j) << 40) | (offset << 16) | rel  # rel < 2^14, offset < 2^24
        hashed += np.add.reduceat(_mixed(packed.astype(np.uint64)), each.start)
        relative.append(rel)
    _, leader, which = np.unique(hashed, return_index=True, return_inverse=True)
    which = which.reshape(-1)
    lead = leader[which]  # each tool's group's first tool
    same = np.ones(size, dtype=np.bool_)
    for each, rel in zip(runs, relative, strict=True):
        same &= each.length == each.length[lead]
        # Each position against the one at the same offset in its leader's run (a differing
        # length is already caught: those compare within bounds, any value).
        across = np.repeat(each.start[lead] - each.start, each.length)
        there = np.minimum(np.arange(len(rel)) + across, len(rel) - 1)
        # The few tools with a differing position (an occurrence's tool: the last run
        # starting at or before it), not a reduction over every tool's run.
        odd = np.flatnonzero(rel != rel[there])
        same[np.searchsorted(each.start, odd, "right") - 1] = False
    ranks = np.empty(size, dtype=np.float64)
    values = [rank_and(tuple(r.of(int(t), int(first[t])) for r in runs)) for t in leader]
    ranks[:] = np.array(values, dtype=np.float64)[which]
    for t in np.flatnonzero(~same).tolist():
        ranks[t] = rank_and(tuple(r.of(t, int(first[t])) for r in runs))
    return ranks
