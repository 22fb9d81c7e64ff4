"""CatalogVersion: the whole catalog at one generation, as this process serves it. Immutable:
a change makes a new version from the previous one (only the changed tools are validated and
encoded again) and the state swaps it in with one assignment, so a reader holds a consistent
catalog for as long as it needs one and never waits for a writer.

Lists and filters are answered here from each tool's pre-encoded summary, in name order with
keyset pages (the same pages the database gave: `name > after`); full-text searches by the
version's Rankings (rankings.py). A stored tool is made an entry by entries.py."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from toolcatalog.catalog.filter_index import FilterIndex, keys_asked, predicate, unfiltered
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.rankings import Carry, Rankings
from toolcatalog.catalog.search_index import FieldTerms, Postings
from toolcatalog.catalog.substrings import TextColumn
from toolcatalog.catalog.term_codes import Codes, TermCodes
from toolcatalog.catalog.views import CachedTool
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.names import did_you_mean
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary

__all__ = ["CatalogVersion"]

# Matching names kept per filter and version: an agent fleet asks the same few filters.
_MEMO_MAX = 256
# Up to this many tools put or removed, a new version's name table is the old one's with them
# inserted or deleted (`_placed`); past it, sorted again.
_PLACED_MAX = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """`at` (aware) as whole microseconds since the epoch: exact, as datetimes compare."""
    return (at - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True, eq=False)
class CatalogVersion:
    generation: int
    entries: Mapping[str, CachedTool]  # valid tools only; never mutated once built
    names: tuple[str, ...]  # sorted
    snapshot: CatalogSnapshot
    built_at: float  # time.monotonic() when read from the database (or changed by us)
    # Full-text candidates, shared with the versions made from this one (search_index.py).
    postings: Postings = field(default_factory=Postings, repr=False)
    # The sorted names of the tools with each filter value (filter_index.py).
    filtering: FilterIndex = field(default_factory=lambda: FilterIndex({}), repr=False)
    # The tools' field lexemes for searches restricted to fields, shared as `postings`.
    field_terms: FieldTerms = field(default_factory=FieldTerms, repr=False)
    _memo: dict[ToolFilter, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _derived: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict, repr=False)
    # Texts searched for a part of them (substrings.py), each made on first use.
    _columns: dict[str, TextColumn] = field(default_factory=dict, repr=False)
    # Each tool's updated_at in microseconds, in name order, once made (`updated_stamps`).
    _stamps: list[npt.NDArray[np.int64]] = field(default_factory=list, repr=False)
    _carried: InitVar[Carry | None] = None
    # Every tool's lexemes as codes for broad searches (term_codes.py), kept by later versions.
    _codes: InitVar[Codes | None] = None
    _rankings: Rankings = field(init=False, repr=False)

    def __post_init__(self, _carried: Carry | None, _codes: Codes | None) -> None:
        rankings = Rankings(
            self.entries, self.names, self.postings, self.field_terms, _carried, _codes
        )
        object.__setattr__(self, "_rankings", rankings)

    @classmethod
    def build(
        cls,
        entries: dict[str, CachedTool],
        generation: int,
        vocabulary: Vocabulary | None,
        environments: EnvironmentPolicies | None,
        built_at: float,
    ) -> CatalogVersion:
        names = tuple(sorted(entries))
        snapshot = CatalogSnapshot(
            tuple(entries[n].tool for n in names),
            generation,
            datetime.now(UTC),
            vocabulary,
            environments=environments,
        )
        postings = Postings.of((n, e.terms) for n, e in entries.items())
        filtering = FilterIndex.of(entries)
        # ~0.1 s and ~4 bytes a position (~12 MiB) at 20,000 generated tools.
        codes = Codes(TermCodes.of(names, {n: e.terms for n, e in entries.items()}), frozenset())
        return cls(
            generation, entries, names, snapshot, built_at, postings, filtering, _codes=codes
        )

    def changed(
        self,
        fresh: Mapping[str, CachedTool],
        gone: Iterable[str],
        generation: int,
        built_at: float,
    ) -> CatalogVersion:
        """A new version with `fresh` tools put and `gone` ones removed. Costs a copy of the
        name table and of the snapshot's tools (~1 ms at 10,000 tools; sorting the names again
        only when over _PLACED_MAX tools came or went), no validation of the unchanged tools."""
        gone = tuple(gone)
        entries = dict(self.entries)
        for name in gone:
            entries.pop(name, None)
        entries.update(fresh)
        for name, entry in fresh.items():
            before = self.entries.get(name)
            self.postings.add(name, entry.terms, before.terms if before is not None else "")
        held = self.entries
        stamps: list[npt.NDArray[np.int64]] = []
        if all(n in held for n in fresh) and not any(n in held for n in gone):
            # The same names: the tools at the changed names' places replaced in a copy (a
            # C-level copy; comparing the name sets and walking every tool was ~5 ms on the
            # loop per write at 100,000 tools).
            names = self.names
            listed = list(self.snapshot.tools)
            for name, entry in fresh.items():
                listed[bisect.bisect_left(names, name)] = entry.tool
            tools = tuple(listed)
            if self._stamps:  # the updated_at index too, made again only if never asked
                stamps = [self._stamps[0].copy()]
                for name, entry in fresh.items():
                    stamps[0][bisect.bisect_left(names, name)] = _micros(entry.updated_at)
        elif len(fresh) + len(gone) <= _PLACED_MAX:
            names, tools, stamps = self._placed(fresh, gone)
        else:
            names = tuple(sorted(entries))
            tools = tuple(entries[n].tool for n in names)
        snapshot = CatalogSnapshot(
            tools,
            max(generation, self.generation),
            datetime.now(UTC),
            self.snapshot.vocabulary,
            environments=self.snapshot.environments,
        )
        return CatalogVersion(
            max(generation, self.generation),
            entries,
            names,
            snapshot,
            built_at,
            self.postings,
            self.filtering.changed(self.entries, fresh, gone),
            self.field_terms,
            _stamps=stamps,
            _carried=self._rankings.carry({*fresh, *gone}, len(entries)),
            _codes=self._rankings.codes_after({*fresh, *gone}),
        )

    def _placed(
        self, fresh: Mapping[str, CachedTool], gone: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[Tool, ...], list[npt.NDArray[np.int64]]]:
        """The names, the tools (and the updated_at stamps, if made) in name order, with
        `gone` removed and `fresh` put, by a few deletions and insertions into copies (C
        moves: ~1 ms at 100,000 tools, where sorting the names again and looking every tool
        up took ~22 ms of the loop for each tool added or removed)."""
        names, tools = list(self.names), list(self.snapshot.tools)
        stamps = self._stamps[0] if self._stamps else None
        for name in gone:
            at = bisect.bisect_left(names, name)
            if names[at : at + 1] == [name]:
                del names[at], tools[at]
                if stamps is not None:
                    stamps = np.delete(stamps, at)
        for name, entry in fresh.items():
            at = bisect.bisect_left(names, name)
            if names[at : at + 1] == [name]:
                tools[at] = entry.tool
                if stamps is not None:
                    stamps = stamps.copy() if stamps is self._stamps[0] else stamps
                    stamps[at] = _micros(entry.updated_at)
            else:
                names.insert(at, name)
                tools.insert(at, entry.tool)
                if stamps is not None:
                    stamps = np.insert(stamps, at, _micros(entry.updated_at))
        return tuple(names), tuple(tools), [] if stamps is None else [stamps]

    # ---------------------------------------------------------------- listing

    def count_with(self, field: str, value: object) -> int:
        """How many tools have `value` for the filter field `field` (filter_index.py)."""
        return len(self.filtering.names((field, value)))

    def names_with(self, field: str, value: object) -> tuple[str, ...]:
        """The sorted names of the tools whose filter field `field` is `value` (a lookup of
        filter_index.py: an unknown value costs no walk)."""
        return self.filtering.names((field, value))

    def holds_columns(self, columns: Iterable[str]) -> bool:
        """Whether the texts of `columns` are made (`names_containing` walks no tool)."""
        return all(c in self._columns for c in columns)

    def make_columns(self, columns: Iterable[str]) -> None:
        """Make the texts of `columns` (substrings.COLUMNS) not made yet: a walk of every
        tool each (~10-30 ms at 100,000 tools; the service calls it beside the loop)."""
        for column in columns:
            if column not in self._columns:
                self._columns[column] = TextColumn.of(column, self.snapshot.tools)

    def names_containing(self, needle: str, columns: Iterable[str]) -> tuple[str, ...]:
        """The sorted names of the tools whose lowercased text of any of `columns` holds
        `needle` (lowercase): a C scan of each column, whatever the needle (a column not
        made yet is made first)."""
        columns = tuple(dict.fromkeys(columns))
        self.make_columns(columns)
        found: set[int] = set()
        for column in columns:
            found.update(self._columns[column].containing(needle))
        names = self.names
        return tuple(names[i] for i in sorted(found))

    def capability_index(self) -> dict[str, tuple[str, ...]]:
        """Every capability name with the tools that offer it, both sorted (made once a
        version from the filter index's lists: a walk of every tool's capabilities was ~50 ms
        at 20,000 tools, after each write)."""
        found = self._derived.get("capabilities")
        if found is None:
            offered = self.filtering.by_value("capability")
            found = self._derived["capabilities"] = {
                str(name): offered[name] for name in sorted(offered, key=str)
            }
        return found

    def canonical_capability(self, name: str) -> str | None:
        """The canonical name for a capability named by itself or a vocabulary alias, or None
        when neither the vocabulary nor any tool knows it."""
        vocabulary = self.snapshot.vocabulary
        found = vocabulary.resolve(name) if vocabulary is not None else None
        if found is not None:
            return found
        return name if name in self.capability_index() else None

    def resolve_capability(self, name: str) -> str:
        """`canonical_capability`, raising InvalidDefinition (422 / exit 1) with the closest
        known names when it is unknown."""
        found = self.canonical_capability(name)
        if found is not None:
            return found
        vocabulary = self.snapshot.vocabulary
        known = {*self.capability_index()}
        if vocabulary is not None:
            for entry in vocabulary.vocabulary:
                known.update((entry.name, *entry.aliases))
        raise InvalidDefinition(
            f"unknown capability {name!r}{did_you_mean(name, sorted(known))}",
            [Problem("capability", "name a capability of the vocabulary or of a tool "
                     "(GET /api/v1/capabilities lists them)")],
        )  # fmt: skip

    def matching(self, filters: ToolFilter) -> tuple[str, ...]:
        """The names of the tools matching `filters` (all but `q`), in name order."""
        if unfiltered(filters):
            return self.names
        asked = keys_asked(filters)
        if len(asked) == 1 and filters.updated_since is None:
            return self.filtering.names(asked[0])
        found = self._memo.get(filters)
        if found is None:
            # The shortest of the lists asked for (the index's, and the tools updated since),
            # checked for the rest of the filter: no walk of every tool for a distinct time.
            lists = [self.filtering.names(key) for key in asked]
            if filters.updated_since is not None:
                lists.append(self.updated_since(filters.updated_since))
            found = self.in_every(lists, predicate(filters))
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[filters] = found
        return found

    def in_every(
        self, lists: Sequence[tuple[str, ...]], test: Callable[[CachedTool], bool]
    ) -> tuple[str, ...]:
        """The names in every one of `lists` (each sorted by name; none: every tool): the
        shortest list, each of its tools checked by `test` (which holds exactly when a tool is
        in all the lists) when there are others. No walk of every tool for a rare value."""
        if not lists:
            return self.names
        shortest = min(lists, key=len)
        if len(lists) == 1:
            return shortest
        entries = self.entries
        return tuple(n for n in shortest if test(entries[n]))

    def updated_stamps(self) -> npt.NDArray[np.int64]:
        """Each tool's updated_at in microseconds since the epoch, in name order: made on
        first use (a walk of every tool, ~50-80 ms at 100,000: the service makes it beside
        the loop), then carried by the versions a write makes from this one (its tools'
        places patched) while no tool comes or goes."""
        if not self._stamps:
            entries = self.entries
            self._stamps.append(
                np.fromiter(
                    (_micros(entries[n].updated_at) for n in self.names),
                    dtype=np.int64,
                    count=len(self.names),
                )
            )
        return self._stamps[0]

    def holds_stamps(self) -> bool:
        return bool(self._stamps)

    def updated_since(self, since: datetime) -> tuple[str, ...]:
        """The names of the tools updated at or after `since` (aware), in name order: one
        comparison of the stamps, not a walk of every tool per distinct time."""
        names = self.names
        found = np.flatnonzero(self.updated_stamps() >= _micros(since)).tolist()
        if len(found) == len(names):
            return names
        return tuple(map(names.__getitem__, found))

    def ranked_if_kept(self, filters: ToolFilter) -> Ranked | None:
        """`ranked(filters)` if this version has already answered it or derives it from an
        earlier version's answer (the work of the tools changed since), else None."""
        return self._rankings.kept(filters)

    def ranked(self, filters: ToolFilter) -> Ranked:
        """Every tool matching `filters` (`q` set) as (rank, name), best first: rank
        descending, then name descending, as the database ordered them (rankings.py)."""
        return self._rankings.ranked(filters)

    def page(
        self, filters: ToolFilter, *, limit: int, after_name: str | None
    ) -> tuple[list[CachedTool], bool, int]:
        """One page in name order after `after_name`: (items, more after it, total)."""
        names = self.matching(filters)
        start = bisect.bisect_right(names, after_name) if after_name is not None else 0
        chosen = names[start : start + limit]
        return [self.entries[n] for n in chosen], start + limit < len(names), len(names)
