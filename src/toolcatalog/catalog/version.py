"""CatalogVersion: the whole catalog at one generation, as this process serves it. Immutable:
a change makes a new version from the previous one (only the changed tools are validated and
encoded again) and the state swaps it in with one assignment, so a reader holds a consistent
catalog for as long as it needs one and never waits for a writer.

Lists and filters are answered here from each tool's pre-encoded summary, in name order with
keyset pages (the same pages the database gave: `name > after`)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

import orjson

from toolcatalog.catalog.filter_index import FilterIndex, keys_asked
from toolcatalog.catalog.heap import share_fields_sets
from toolcatalog.catalog.search_index import (
    FieldTerms,
    Postings,
    field_slots,
    postings_cover,
    search,
)
from toolcatalog.catalog.text_query import search_parts, search_text, tokens
from toolcatalog.catalog.views import CachedTool, summary_of
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.names import did_you_mean
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store.tools import ToolRecord

# Matching names kept per filter and version: an agent fleet asks the same few filters.
_MEMO_MAX = 256
# A version's rankings are derived from an earlier version's while at most this many tools,
# or an eighth of the catalog, changed since (see _Carry); past that, ranked afresh.
_CARRY_MIN = 64


def entry_of(
    record: ToolRecord, tool: Tool, terms: tuple[str | None, ...] | None = None
) -> CachedTool:
    """A validated record ready to serve: body, summary and ETag encoded once (~40 us), the
    tool's models sharing their fields sets with every other tool's (heap.py). `terms`: the
    tool's search lexemes (`tool_terms`) when already made, the costly part (~0.3-1.5 ms of
    CPU for a starter tool)."""
    if terms is None:
        terms = tool_terms(tool)
    return CachedTool(
        tool=tool,
        body=held_bytes(orjson.dumps(record.definition)),
        etag=record.etag,
        revision=record.revision,
        created_at=record.created_at,
        updated_at=record.updated_at,
        id=record.id,
        summary=held_bytes(orjson.dumps(summary_of(tool, record.revision, record.updated_at))),
        terms=terms,
    )


def held_bytes(encoded: bytes) -> bytes:
    """`encoded` in a buffer of its own size, to keep. orjson hands back its growing buffer
    (a 355-byte summary held 4 KiB, a 4 KB body 8 KiB, a 5 KB one 64 KiB, by tracemalloc);
    the copy costs ~1 us and saved ~7.7 KiB a generated tool (bench/memory.py)."""
    return memoryview(encoded).tobytes()


def tool_terms(tool: Tool, *, remembered: bool = False) -> tuple[str | None, ...]:
    """The tool's search lexemes (CachedTool.terms), with its models made to share their
    fields sets with every other tool's (heap.py): what `entry_of` costs beyond encoding.
    `remembered` (a write's plan): each piece of its text through a memo of recent pieces, so
    a write that changes a description makes that description's lexemes only (a quarter of
    planning a patch of a large starter tool: ~0.6 of 2.6 ms). Not for imports and whole
    reads, which see each piece once."""
    share_fields_sets(tool)
    if not remembered:
        return tokens(search_text(tool))
    return tuple(chain.from_iterable(_piece_tokens(p) for p in search_parts(tool)))


# Pieces of recently written tools' texts: a piece is short (a name, a description, a use
# case), and a catalog's writes mostly change a few pieces of tools written before.
_piece_tokens = lru_cache(maxsize=8192)(tokens)


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
    _derived: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)
    _ranked: dict[ToolFilter, list[tuple[float, str]]] = field(default_factory=dict, repr=False)
    _carried: _Carry | None = field(default=None, repr=False)

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
        return cls(generation, entries, names, snapshot, built_at, postings, filtering)

    def changed(
        self,
        fresh: Mapping[str, CachedTool],
        gone: Iterable[str],
        generation: int,
        built_at: float,
    ) -> CatalogVersion:
        """A new version with `fresh` tools put and `gone` ones removed. Costs a copy of the
        name table and of the snapshot's tools (~1 ms at 10,000 tools; sorting the names again
        only when a tool came or went), no validation of the unchanged tools."""
        gone = tuple(gone)
        entries = dict(self.entries)
        for name in gone:
            entries.pop(name, None)
        entries.update(fresh)
        for name, entry in fresh.items():
            before = self.entries.get(name)
            self.postings.add(name, entry.terms, before.terms if before is not None else ())
        held = self.entries
        if all(n in held for n in fresh) and not any(n in held for n in gone):
            # The same names: the tools at the changed names' places replaced in a copy (a
            # C-level copy; comparing the name sets and walking every tool was ~5 ms on the
            # loop per write at 100,000 tools).
            names = self.names
            listed = list(self.snapshot.tools)
            for name, entry in fresh.items():
                listed[bisect.bisect_left(names, name)] = entry.tool
            tools = tuple(listed)
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
            _carried=self._carry({*fresh, *gone}, len(entries)),
        )

    def _carry(self, touched: set[str], size: int) -> _Carry | None:
        """What the next version (this one with `touched` put or removed) derives its
        rankings from: this version's, or the earlier ones this version carried when it
        ranked nothing itself (only one earlier version's rankings are ever held)."""
        base: Mapping[ToolFilter, list[tuple[float, str]]]
        if self._ranked:
            base, changed = self._ranked, frozenset(touched)
        elif self._carried is not None:
            base, changed = self._carried.ranked, self._carried.changed.union(touched)
        else:
            return None
        return _Carry(base, changed) if len(changed) <= max(_CARRY_MIN, size // 8) else None

    # ---------------------------------------------------------------- listing

    def count_with(self, field: str, value: object) -> int:
        """How many tools have `value` for the filter field `field` (filter_index.py)."""
        return len(self.filtering.names((field, value)))

    def capability_index(self) -> dict[str, list[str]]:
        """Every capability name with the tools that offer it (computed once a version)."""
        found = self._derived.get("capabilities")
        if found is None:
            index: dict[str, list[str]] = {}
            for name in self.names:
                for cap in self.entries[name].tool.capabilities:
                    index.setdefault(cap.name, []).append(name)
            found = self._derived["capabilities"] = dict(sorted(index.items()))
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
        if _unfiltered(filters):
            return self.names
        asked = keys_asked(filters)
        if len(asked) == 1 and filters.updated_since is None:
            return self.filtering.names(asked[0])
        found = self._memo.get(filters)
        if found is None:
            # The shortest of the lists asked for, checked for the rest of the filter.
            lists = [self.filtering.names(key) for key in asked] or [self.names]
            test = _predicate(filters)
            found = tuple(n for n in min(lists, key=len) if test(self.entries[n]))
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[filters] = found
        return found

    def ranked_if_kept(self, filters: ToolFilter) -> list[tuple[float, str]] | None:
        """`ranked(filters)` if this version has already answered it or derives it from an
        earlier version's answer (the work of the tools changed since), else None."""
        found = self._ranked.get(filters)
        if found is None:
            found = self._carried_ranking(filters)
        return found

    def ranked(self, filters: ToolFilter) -> list[tuple[float, str]]:
        """Every tool matching `filters` (`q` set) as (rank, name), best first: rank
        descending, then name descending, as the database ordered them. Kept for this
        version's life (an agent fleet asks the same few searches), and carried to the
        versions made from it."""
        found = self._ranked.get(filters)
        if found is None:
            found = self._carried_ranking(filters)
        if found is None:
            found = self._search(filters, self.names, everywhere=True)
            self._keep(filters, found)
        return found

    def _search(
        self, filters: ToolFilter, names: Iterable[str], *, everywhere: bool
    ) -> list[tuple[float, str]]:
        """The tools of `names` matching `filters`, ranked (`everywhere`: `names` is every
        tool, so the postings may narrow them)."""
        if filters.search_fields:
            slots = field_slots(filters.search_fields)
            terms: Mapping[str, tuple[str | None, ...]] = _FieldsTerms(
                self.entries, self.field_terms, slots
            )
            postings = self.postings if postings_cover(slots) else None
        else:
            terms, postings = _Terms(self.entries), self.postings
        found = search(filters.q or "", terms, postings if everywhere else None, names)
        if not _unfiltered(filters):
            test = _predicate(filters)
            found = [(r, n) for r, n in found if test(self.entries[n])]
        return found

    def _carried_ranking(self, filters: ToolFilter) -> list[tuple[float, str]] | None:
        """`filters`' ranking derived from the earlier version's (the changed tools left
        out, then those still here ranked and merged in), or None when it had none. A
        tool's rank depends only on its own lexemes and the query (ts_rank), and the
        others are the same objects, so this is the ranking afresh; a search after each
        write cost every matching tool's check (~20 us each: 'disk usage' ~90 ms of CPU at
        10,000 tools), now the changed tools'."""
        carried = self._carried
        before = carried.ranked.get(filters) if carried is not None else None
        if carried is None or before is None:
            return None
        changed = carried.changed
        found = [item for item in before if item[1] not in changed]
        came = self._search(filters, [n for n in changed if n in self.entries], everywhere=False)
        if came:
            found.extend(came)
            found.sort(reverse=True)
        self._keep(filters, found)
        return found

    def _keep(self, filters: ToolFilter, found: list[tuple[float, str]]) -> None:
        if len(self._ranked) >= _MEMO_MAX:
            self._ranked.clear()
        self._ranked[filters] = found

    def page(
        self, filters: ToolFilter, *, limit: int, after_name: str | None
    ) -> tuple[list[CachedTool], bool, int]:
        """One page in name order after `after_name`: (items, more after it, total)."""
        names = self.matching(filters)
        start = bisect.bisect_right(names, after_name) if after_name is not None else 0
        chosen = names[start : start + limit]
        return [self.entries[n] for n in chosen], start + limit < len(names), len(names)


@dataclass(frozen=True, slots=True)
class _Carry:
    """An earlier version's rankings, and the names put or removed since it."""

    ranked: Mapping[ToolFilter, list[tuple[float, str]]]
    changed: frozenset[str]


def _unfiltered(f: ToolFilter) -> bool:
    return (
        f.platform is None
        and f.category is None
        and f.status is None
        and not f.tags
        and f.capability is None
        and f.enabled is None
        and f.updated_since is None
    )


def _predicate(f: ToolFilter) -> Callable[[CachedTool], bool]:
    tags = set(f.tags)

    def test(entry: CachedTool) -> bool:
        tool = entry.tool
        return (
            (f.platform is None or tool.platform.value == f.platform)
            and (f.category is None or tool.category == f.category)
            and (f.status is None or tool.status.value == f.status)
            and (not tags or tags.issubset(tool.tags))
            and (f.capability is None or any(c.name == f.capability for c in tool.capabilities))
            and (f.enabled is None or tool.enabled == f.enabled)
            and (f.updated_since is None or entry.updated_at >= f.updated_since)
        )

    return test


class _Terms(Mapping[str, tuple[str | None, ...]]):
    """A version's tools' terms by name, without copying them out."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, CachedTool]) -> None:
        self._entries = entries

    def __getitem__(self, name: str) -> tuple[str | None, ...]:
        return self._entries[name].terms

    def get(self, name: str, default: object = None) -> Any:
        entry = self._entries.get(name)
        return default if entry is None else entry.terms

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class _FieldsTerms(_Terms):
    """A version's tools' lexemes of some fields (FIELD_ORDER positions `slots`), joined."""

    __slots__ = ("_fields", "_slots")

    def __init__(
        self, entries: Mapping[str, CachedTool], fields: FieldTerms, slots: tuple[int, ...]
    ) -> None:
        super().__init__(entries)
        self._fields, self._slots = fields, slots

    def __getitem__(self, name: str) -> tuple[str | None, ...]:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found  # type: ignore[no-any-return]

    def get(self, name: str, default: object = None) -> Any:
        entry = self._entries.get(name)
        if entry is None:
            return default
        each = self._fields.of(name, entry.tool)
        return tuple(chain.from_iterable(each[i] for i in self._slots))
