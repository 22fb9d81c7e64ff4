"""The full-text rankings of a catalog version (searches with `q`), kept for the version's life
(an agent fleet asks the same few searches) and carried to the versions made from it: a
version after a write derives its rankings from the earlier version's by ranking only the
tools changed since (see `Rankings.carry`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from toolcatalog.catalog.filter_index import predicate, unfiltered
from toolcatalog.catalog.lexicon import Terms
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.search_index import (
    FieldTerms,
    Postings,
    field_slots,
    postings_cover,
    search,
)
from toolcatalog.catalog.term_codes import Codes, TermCodes
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.listing import ToolFilter

# Rankings kept per version: an agent fleet asks the same few searches.
_KEPT_MAX = 256
# A version's rankings are derived from an earlier version's while at most this many tools,
# or an eighth of the catalog, changed since (see Carry); past that, ranked afresh.
_CARRY_MIN = 64
# A version's TermCodes are kept by the versions made from it while at most this many tools,
# or 1 % of the catalog, changed since: each search of single lexemes ranks those one by one
# (~6 us each) and leaves them out of the codes' answer. Past that, made again on the first
# search that wants them (~0.1 s of the ranking thread at 20,000 tools).
_STALE_MIN = 256


@dataclass(frozen=True, slots=True)
class Carry:
    """An earlier version's rankings, and the names put or removed since it."""

    ranked: Mapping[ToolFilter, Ranked]
    changed: frozenset[str]


class Rankings:
    """One version's rankings: its tools (`entries`, `names` sorted), its full-text indexes,
    and what it carried from an earlier version."""

    __slots__ = (
        "_carried",
        "_codes",
        "_entries",
        "_field_terms",
        "_names",
        "_postings",
        "_ranked",
    )

    def __init__(
        self,
        entries: Mapping[str, CachedTool],
        names: tuple[str, ...],
        postings: Postings,
        field_terms: FieldTerms,
        carried: Carry | None,
        codes: Codes | None,
    ) -> None:
        self._entries, self._names = entries, names
        self._postings, self._field_terms = postings, field_terms
        self._ranked: dict[ToolFilter, Ranked] = {}
        self._carried = carried
        self._codes = codes

    def codes_after(self, touched: set[str]) -> Codes | None:
        """The codes of the next version (this one with `touched` put or removed): these,
        with `touched` stale too, while few are; else None (made again when wanted)."""
        kept = self._codes
        if kept is None:
            return None
        stale = kept.stale.union(touched)
        if len(stale) > max(_STALE_MIN, len(kept.codes.names) // 100):
            return None
        return Codes(kept.codes, stale)

    def _term_codes(self) -> Codes:
        """This version's codes, made now if it has none (in the ranking's thread)."""
        kept = self._codes
        if kept is None:
            kept = self._codes = Codes(
                TermCodes.of(self._names, _Terms(self._entries)), frozenset()
            )
        return kept

    def carry(self, touched: set[str], size: int) -> Carry | None:
        """What the next version (this one with `touched` put or removed) derives its
        rankings from: this version's, or the earlier ones this version carried when it
        ranked nothing itself (only one earlier version's rankings are ever held)."""
        base: Mapping[ToolFilter, Ranked]
        if self._ranked:
            base, changed = self._ranked, frozenset(touched)
        elif self._carried is not None:
            base, changed = self._carried.ranked, self._carried.changed.union(touched)
        else:
            return None
        return Carry(base, changed) if len(changed) <= max(_CARRY_MIN, size // 8) else None

    def kept(self, filters: ToolFilter) -> Ranked | None:
        """`ranked(filters)` if this version has already answered it or derives it from an
        earlier version's answer (the work of the tools changed since), else None."""
        found = self._ranked.get(filters)
        if found is None:
            found = self._carried_ranking(filters)
        return found

    def ranked(self, filters: ToolFilter) -> Ranked:
        """Every tool matching `filters` (`q` set) as (rank, name), best first: rank
        descending, then name descending, as the database ordered them. Kept for this
        version's life (an agent fleet asks the same few searches), and carried to the
        versions made from it."""
        found = self._ranked.get(filters)
        if found is None:
            found = self._carried_ranking(filters)
        if found is None:
            found = self._search(filters, self._names, everywhere=True)
            self._keep(filters, found)
        return found

    def _search(self, filters: ToolFilter, names: Iterable[str], *, everywhere: bool) -> Ranked:
        """The tools of `names` matching `filters`, ranked (`everywhere`: `names` is every
        tool, so the postings may narrow them)."""
        if filters.search_fields:
            slots = field_slots(filters.search_fields)
            terms: Mapping[str, Terms] = _FieldsTerms(self._entries, self._field_terms, slots)
            postings = self._postings if postings_cover(slots) else None
            found = search(filters.q or "", terms, postings if everywhere else None, names)
        elif everywhere:
            terms = _Terms(self._entries)
            found = search(filters.q or "", terms, self._postings, names, self._term_codes)
        else:
            found = search(filters.q or "", _Terms(self._entries), None, names)
        if not unfiltered(filters):
            test = predicate(filters)
            found = Ranked.of([(r, n) for r, n in found if test(self._entries[n])])
        return found

    def _carried_ranking(self, filters: ToolFilter) -> Ranked | None:
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
        came = self._search(filters, [n for n in changed if n in self._entries], everywhere=False)
        found = before.without(changed).merged(list(came))
        self._keep(filters, found)
        return found

    def _keep(self, filters: ToolFilter, found: Ranked) -> None:
        if len(self._ranked) >= _KEPT_MAX:
            self._ranked.clear()
        self._ranked[filters] = found


class _Terms(Mapping[str, Terms]):
    """A version's tools' terms by name, without copying them out."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, CachedTool]) -> None:
        self._entries = entries

    def __getitem__(self, name: str) -> Terms:
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

    def __getitem__(self, name: str) -> Terms:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found  # type: ignore[no-any-return]

    def get(self, name: str, default: object = None) -> Any:
        entry = self._entries.get(name)
        if entry is None:
            return default
        each = self._fields.of(name, entry.tool)
        return "".join([each[i] for i in self._slots])
