"""Candidate retrieval: the catalog index built from one snapshot, and the ranked tools and
patterns a request reaches, with how much of the request each covers.

One BM25F index over tools (their documents: documents.py) decides which tools are relevant;
a pooled tool's patterns are then scored at query time with the same IDF (pattern_tables.py),
which decides which way of using it fits best (a second full index over every pattern doubled
the build time for a ranking only the pool's few hundred patterns need). A new generation's
index is derived from the previous one's (derivation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.collector import collector_paused
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Platform, Status, Tool
from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.bm25 import BM25FIndex, Component
from toolcatalog.selection.derivation import (
    Docs,
    PatternLengths,
    Positions,
    identical,
    in_name_order,
    per_tool,
    positions_in,
    str_per_tool,
)
from toolcatalog.selection.documents import (
    PATTERN_FIELDS,
    TOOL_FIELDS,
    Documents,
    PatternDoc,
    canonical_names,
)
from toolcatalog.selection.field_scorer import FieldScorer
from toolcatalog.selection.interned import Interned
from toolcatalog.selection.pattern_entries import PatternEntries
from toolcatalog.selection.pattern_tables import PatternTables
from toolcatalog.selection.policy import platform_matches
from toolcatalog.selection.text import is_value_term, release_catalog_caches

FUZZY_WEIGHT = 0.8
# A platform named in the request's words ("on the windows file server", "ubuntu box", "pod"):
# tools of that platform gain PLATFORM_BOOST of their score; when an OS is named, tools bound
# to another OS lose PLATFORM_PENALTY. Portable, cloud and custom tools are left alone.
# Measured: neutral on the dev and held-out sets (few of their misses hinge on the OS); larger
# values began to override clear text evidence ("no docker" made a container tool win).
PLATFORM_BOOST = 0.1
PLATFORM_PENALTY = 0.2
OS_NAMES = frozenset({Platform.linux.value, Platform.windows.value, Platform.macos.value})

# Capability names whose tools CatalogIndex.offering keeps (Stage A names a few).
MAX_OFFERING = 1024


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What a request reaches: raw tool scores (BM25F units), the share of the request's
    weighted IDF each tool covers (0..1), and the terms actually searched."""

    tool_scores: FloatArray
    tool_coverage: FloatArray
    tool_matches: FloatArray  # how many of the request's content words each tool has
    terms: dict[str, float]
    mass: float  # the request's content words' summed IDF: the most a tool could score
    weighted: dict[str, float]  # terms x IDF, for pattern scores


class CatalogIndex:
    """Everything the selector needs from one snapshot, built once per generation.

    With `previous` (the index of an earlier generation with the same vocabulary), the new
    one is derived from it: unchanged tools (the same objects, as a catalog version keeps
    them) keep their documents, pattern entries and interned texts, and only the changed
    tools' texts are tokenised and counted. What depends on the whole catalog (BM25F's
    document frequencies and average field lengths) is recomputed with numpy from per-text
    counts, so the index is the one a build from nothing makes (tests/selection/
    test_incremental_index.py)."""

    _documents: Documents
    parts: Interned
    tool_patterns: list[tuple[PatternDoc, ...]]
    pattern_tool: IntArray  # per pattern, its tool
    pattern_start: IntArray  # tool i's patterns are pattern_start[i]:pattern_start[i + 1]
    tool_index: BM25FIndex
    _pattern_lengths: PatternLengths
    _active: npt.NDArray[np.bool_]
    _platforms: npt.NDArray[np.str_]
    tools: tuple[Tool, ...]
    tool_names: tuple[str, ...]  # sorted: bisect finds prefixes
    tool_position: dict[str, int]  # never changed once made (a derived index shares it)

    def __init__(self, snapshot: CatalogSnapshot, previous: CatalogIndex | None = None) -> None:
        if previous is not None and previous.vocabulary is not snapshot.vocabulary:
            previous = None
        with collector_paused():
            if previous is not None and previous.parts.lock.acquire(blocking=False):
                try:
                    self._build(snapshot, previous)
                finally:
                    previous.parts.lock.release()
            else:
                self._build(snapshot, None)

    def _build(self, snapshot: CatalogSnapshot, previous: CatalogIndex | None) -> None:
        self.generation = snapshot.generation
        self.snapshot = snapshot
        self.key = snapshot_key(snapshot)
        vocabulary = snapshot.vocabulary
        held = (previous.tools, previous.tool_names) if previous is not None else ((), ())
        same = identical(held[0], snapshot.tools) if previous is not None else None
        ordered = in_name_order(*held, snapshot.tools, same)
        if previous is not None and ordered is not None:
            self.tools, self.tool_names = ordered, previous.tool_names
            self.tool_position = previous.tool_position
        else:
            self.tools = tuple(sorted(snapshot.tools, key=attrgetter("name")))
            self.tool_names = tuple(map(attrgetter("name"), self.tools))
            self.tool_position = dict(zip(self.tool_names, range(len(self.tools)), strict=True))
        if previous is None or previous._documents.oversized():
            self.canonical = canonical_names(vocabulary)
            self._documents = Documents(vocabulary, self.canonical)
            fresh = True
        else:
            fresh = False
            self.canonical, self._documents = previous.canonical, previous._documents
        # Where each tool was in `previous` (-1: new or changed), by identity: a catalog
        # version hands unchanged tools on as the same objects.
        self.positions = positions_in(
            previous.tools if previous else (),
            self.tools,
            same if ordered is not None and previous is not None else None,
        )
        self.moved_from = self.positions.at
        # The key of the index this one was derived from, and that index's positions of the
        # tools that changed or went (see CandidateEnumerator).
        self.base = previous.key if previous is not None else None
        self.dropped = self.positions.dropped
        changed = self.positions.changed
        # The changed tools' documents, by position: the others' are their BM25F index's
        # (BM25FIndex.document), which the new index reuses or asks for (see Documents).
        built: dict[int, list[Component]] = {}
        # The unchanged tools' patterns and capabilities taken over (C-level: a Python loop
        # over every tool was ~70 ms of a write at 20,000 tools); a changed tool's (at -1 for
        # now: the last tool's) are made below.
        tool_capabilities: list[frozenset[str]]
        if previous is not None and previous.tools and self.positions.in_place:
            self.tool_patterns = list(previous.tool_patterns)  # a copy, then the changed ones
            tool_capabilities = list(previous.tool_capabilities)
        elif previous is not None and previous.tools:
            moved = self.moved_from.tolist()
            self.tool_patterns = list(map(previous.tool_patterns.__getitem__, moved))
            tool_capabilities = list(map(previous.tool_capabilities.__getitem__, moved))
        else:
            self.tool_patterns = [()] * len(self.tools)
            tool_capabilities = [frozenset[str]()] * len(self.tools)
        for i in changed:
            tool = self.tools[i]
            built[i], own = self._documents.build(tool)
            self.tool_patterns[i] = tuple(own)  # 64 bytes a tool less than the list
            tool_capabilities[i] = self._documents.capability_set(tool, self.resolve_capability)
        if fresh:
            # The table's texts are not kept, nor the tokeniser's caches of a large catalog's:
            # the index then holds what a restart's (restored) holds. A first start at 20,000
            # tools held ~50 MiB more than a restart, these (docs/performance.md, firstmem).
            self._documents.limit = 2 * self._documents.size() + 1000
            self._documents = self._documents.emptied()
            if previous is None:
                release_catalog_caches()
        parts = None
        if previous is not None and len(previous.parts.keep) <= 2 * previous.parts.used + 1000:
            parts = previous.parts  # else start afresh: it holds too many texts gone by now
        if previous is not None and self.positions.in_place and not changed:
            # The same tools at the same places (a restart from the saved index with nothing
            # changed, a change of environment policies): the same BM25F index, which is
            # immutable (its postings again from the same counts: 2.7 s at 100,000 tools).
            self.tool_index = previous.tool_index
        else:
            self.tool_index = BM25FIndex(
                Docs(built, previous.tool_index if previous else None, self.moved_from),
                TOOL_FIELDS,
                parts=parts,
                previous=previous.tool_index if parts is not None and previous else None,
                kept=self.moved_from,
            )
        self.parts = self.tool_index.parts
        self._set_patterns(previous)
        self._pattern_lengths = PatternLengths.of(
            previous._pattern_lengths if previous is not None else None,
            [p for i in changed for p in self.tool_patterns[i]],
            [p for k in self.dropped for p in previous.tool_patterns[k]] if previous else [],
        )
        self.tool_capabilities: tuple[frozenset[str], ...] = tuple(tool_capabilities)
        self.vocabulary = vocabulary
        self._start_caches()
        self._active = per_tool(
            previous._active if previous is not None else None,
            self.moved_from,
            self.tools,
            lambda t: t.enabled and t.status != Status.disabled,
            bool,
        )
        self._platforms = str_per_tool(
            previous._platforms if previous is not None else None,
            self.moved_from,
            self.tools,
            lambda t: t.platform.value,
        )

    def _set_patterns(self, previous: CatalogIndex | None = None) -> None:
        """Where each tool's patterns are in the index's pattern order: the previous index's
        tables when the tools kept their places and the changed ones their pattern counts."""
        if (
            previous is not None
            and self.positions.in_place
            and all(
                len(self.tool_patterns[i]) == len(previous.tool_patterns[i])
                for i in self.positions.changed
            )
        ):
            self.pattern_tool, self.pattern_start = previous.pattern_tool, previous.pattern_start
        else:
            # Patterns are stored tool by tool: tool i owns patterns[start[i]:start[i + 1]].
            count = len(self.tools)
            per_tool = np.fromiter(map(len, self.tool_patterns), dtype=np.int64, count=count)
            self.pattern_tool = np.repeat(np.arange(count, dtype=np.int64), per_tool)
            self.pattern_start = np.concatenate(([0], np.cumsum(per_tool)))
        self.patterns = PatternEntries(self.tools, self.pattern_tool, self.pattern_start)

    def _start_caches(self) -> None:
        """What requests fill in (a benign race each: the same value either way)."""
        self.pattern_tables = PatternTables(
            self.tool_patterns,
            self.pattern_start,
            FieldScorer(PATTERN_FIELDS, self._pattern_lengths.averages()),
            self.tool_index,
        )
        self._offering: dict[str, list[int]] = {}
        self._worlds: dict[Platform | None, npt.NDArray[np.bool_]] = {}
        self._platform_factors: dict[tuple[frozenset[str], bool], FloatArray] = {}

    def saved_state(self) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """What `restored` makes this index from again over the same tools (by name): each
        tool's documents and the BM25F index with its interned texts, which are what a build
        spends its time on (tokenising and counting every text). What is derived from the
        tools themselves, or filled in by requests, is not kept. The long per-tool and
        per-text lists come apart (the second value), for a saver to write a few at a time
        (one pickle of them all held the GIL ~1.6 s per 20,000 tools). Safe beside a build
        derived from this index, which adds to the shared interned texts and terms: they are
        copied under their lock."""
        parts = self.tool_index.parts.copy()
        tool_index = self.tool_index.detached(parts)
        lists: dict[str, list[Any]] = {
            "tool_patterns": self.tool_patterns,
            "texts": parts.keep,
        }
        parts.keep = []  # on the copy: `lists` holds them
        snapshot = self.snapshot
        state: dict[str, Any] = {
            "names": self.tool_names,
            "snapshot": (
                snapshot.generation,
                snapshot.loaded_at,
                snapshot.vocabulary,
                snapshot.source,
                snapshot.environments,
            ),
            "documents_limit": self._documents.limit,
            "tool_capabilities": self.tool_capabilities,
            "tool_index": tool_index,
            "pattern_lengths": self._pattern_lengths,
            "active": self._active,
            "platforms": self._platforms,
        }
        return state, lists

    @classmethod
    def restored(
        cls, state: Mapping[str, Any], lists: Mapping[str, list[Any]], tools: Mapping[str, Tool]
    ) -> CatalogIndex:
        """The index `saved_state` saved, over `tools` (by name: the very tools it was built
        from, as the saved catalog version loads them). Used to derive the current snapshot's
        index from (see __init__'s `previous`), which then tokenises only the tools changed
        since. Raises KeyError when a tool is missing, ValueError when the parts disagree."""
        self = cls.__new__(cls)
        generation, loaded_at, vocabulary, source, environments = state["snapshot"]
        self.tool_names = tuple(state["names"])
        self.tools = tuple(tools[name] for name in self.tool_names)
        self.snapshot = CatalogSnapshot(
            self.tools, generation, loaded_at, vocabulary, source, environments
        )
        self.generation, self.key, self.vocabulary = (
            generation,
            snapshot_key(self.snapshot),
            vocabulary,
        )
        self.tool_position = {name: i for i, name in enumerate(self.tool_names)}
        self.canonical = canonical_names(vocabulary)
        # A fresh table of texts: the saved documents' texts are interned in `parts` already.
        self._documents = Documents(vocabulary, self.canonical)
        self._documents.limit = state["documents_limit"]
        self.positions = Positions.kept(len(self.tools))
        self.moved_from, self.base, self.dropped = self.positions.at, None, []
        self.tool_patterns = lists["tool_patterns"]
        if len(self.tools) != len(self.tool_patterns):
            raise ValueError("the saved index does not match its tools")
        self.tool_capabilities = state["tool_capabilities"]
        self.tool_index = state["tool_index"]
        self.parts = self.tool_index.parts
        self.parts.hold(lists["texts"])
        if len(self.tool_index._doc_start) != len(self.tools) + 1:
            raise ValueError("the saved index does not match its tools")
        self._set_patterns()
        self._pattern_lengths = state["pattern_lengths"]
        self._active, self._platforms = state["active"], state["platforms"]
        self._start_caches()
        return self

    def adopt(self, snapshot: CatalogSnapshot) -> None:
        """Take `snapshot`'s vocabulary and environment policies where they equal this
        index's (a restored index holds copies): an index derived from this one for
        `snapshot` then keeps what it can (see __init__ and changed_since)."""
        mine = self.snapshot
        if mine.vocabulary == snapshot.vocabulary:
            self.vocabulary = snapshot.vocabulary
        environments = (
            snapshot.environments
            if mine.environments == snapshot.environments
            else mine.environments
        )
        self.snapshot = replace(mine, vocabulary=self.vocabulary, environments=environments)

    def changed_since(self, previous: CatalogIndex) -> list[int] | None:
        """The positions of the tools that differ from `previous` when every other tool and
        pattern kept its position (an update of tools whose patterns did not change in
        number), so what was computed per tool or pattern position for `previous` holds
        here for the others; None otherwise (a tool came or went)."""
        if (
            self.base != previous.key
            or len(self.tools) != len(previous.tools)
            or self.snapshot.environments is not previous.snapshot.environments
            or not self.positions.in_place
            or not np.array_equal(self.pattern_start, previous.pattern_start)
        ):
            return None
        return self.positions.changed

    def world_mask(self, platform: Platform | None) -> npt.NDArray[np.bool_]:
        """Tools that can serve a request for `platform`: enabled and platform-compatible."""
        mask = self._worlds.get(platform)
        if mask is None:
            # By platform value, not a call per tool (the first select of each new index asks).
            fitting = [p.value for p in Platform if platform_matches(p, platform)]
            fits = np.isin(self._platforms, fitting)
            mask = self._worlds[platform] = self._active & fits
        return mask

    def platform_factor(self, hinted: frozenset[str], boost: bool = True) -> FloatArray | float:
        """Per-tool score factors for platforms the request's words name (see PLATFORM_HINT):
        a soft preference, never a filter. 1.0 when the request names none. Without `boost`,
        only the penalty of tools bound to another OS."""
        if not hinted:
            return 1.0
        factor = self._platform_factors.get((hinted, boost))
        if factor is None:
            names = self._platforms
            factor = np.ones(len(self.tools))
            if boost:
                factor[np.isin(names, list(hinted))] += PLATFORM_BOOST
            named_os = hinted & OS_NAMES
            if named_os:
                other_os = np.isin(names, list(OS_NAMES - named_os))
                factor[other_os] -= PLATFORM_PENALTY
            self._platform_factors[(hinted, boost)] = factor
        return factor

    def offering(self, capability: str) -> list[int]:
        """Positions of the tools offering `capability` (canonical), ascending: found by one
        pass over the catalog the first time a request names it, then kept (for MAX_OFFERING
        names), so Stage A's evidence costs a request its few tools, not the catalog."""
        found = self._offering.get(capability)
        if found is None:
            if len(self._offering) >= MAX_OFFERING:
                self._offering.clear()
            found = [i for i, caps in enumerate(self.tool_capabilities) if capability in caps]
            self._offering[capability] = found  # a benign race: the same value either way
        return found

    def resolve_capability(self, name: str) -> str:
        return self.canonical.get(name, name)

    def retrieve(self, terms: Mapping[str, float]) -> Retrieval:
        """Score every tool for the request's weighted terms (see `query_terms`).

        Coverage counts the request's own content words (weight 1, not values such as hosts
        and addresses) by IDF; words the catalog has never seen count at the highest IDF, so
        a request about something else ("bake a chocolate cake") covers little of any tool.
        A misspelling the index corrects counts as its correction."""
        searched: dict[str, float] = {}
        covering: dict[str, float] = {}
        mass = 0.0
        for term, weight in terms.items():
            searched[term] = max(weight, searched.get(term, 0.0))
            content = weight >= 1.0 and not is_value_term(term)
            fixed = self.tool_index.correction(term) if weight >= 1.0 else None
            if fixed is not None:
                searched[fixed] = max(FUZZY_WEIGHT, searched.get(fixed, 0.0))
                if content:
                    covering[fixed] = FUZZY_WEIGHT
                    mass += FUZZY_WEIGHT * self.tool_index.idf_of(fixed)
            elif content:
                covering[term] = 1.0
                mass += self.tool_index.idf_of(term)
        tool_scores, covered, matches = self.tool_index.score(searched, covering)
        coverage = covered / mass if mass > 0 else np.zeros_like(covered)
        weighted = self.pattern_tables.weigh(searched)
        return Retrieval(tool_scores, coverage, matches, searched, mass, weighted)


def snapshot_key(snapshot: CatalogSnapshot) -> tuple[str, int, float]:
    """Identifies a snapshot's content: a new generation (or source) means a new index."""
    return snapshot.source, snapshot.generation, snapshot.loaded_at.timestamp()
