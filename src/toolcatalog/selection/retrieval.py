"""Candidate retrieval: the catalog index built from one snapshot, and the ranked tools and
patterns a request reaches, with how much of the request each covers.

One BM25F index over tools (name, tags, description, capabilities, patterns, examples) decides
which tools are relevant; a pooled tool's patterns are then scored at query time with the same
IDF, which decides which way of using it fits best (a second full index over every pattern
doubled the build time for a ranking only the pool's few hundred patterns need). Capability
names are indexed with their vocabulary aliases and description, so text written in another
team's words still meets ours.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.collector import collector_paused
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Capability, Platform, Status, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.bm25 import BM25FIndex, Component, FieldScorer, FieldSpec
from toolcatalog.selection.hosts import split_entities
from toolcatalog.selection.interned import Interned, Terms
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.pattern_entries import PatternEntries
from toolcatalog.selection.policy import platform_matches
from toolcatalog.selection.text import is_value_term
from toolcatalog.selection.tokenizer import tokens

# Field weights: names and tags are short and deliberate, examples are written like requests.
# Names of hosts, interfaces and devices in examples (web01, bond0, sdd) are mostly incidental
# ("why is / full on db2"): indexed like any word they made "which folder under /var/log is
# huge on app3" pick restic, whose example mentions app3. They keep a small weight, as
# interface and device names still say something about a tool (dropped entirely, the dev set
# lost "MTU on bond0"). Limitations are not indexed: they mostly name *other* tools ("use
# lsof") and at their old weight (0.15) moved no ranking while costing a tenth of the build.
# `evidence` (coverage, see bm25.FieldSpec): a word a tool only has in an example ("tokyo" in a
# speedtest example) says less that the tool is about it than a word in its own description.
TOOL_FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec(3.0, 0.0),
    "display": FieldSpec(1.5, 0.3),
    "tags": FieldSpec(1.5, 0.3),
    "category": FieldSpec(0.5, 0.0),
    "description": FieldSpec(1.0, 0.75),
    "capability": FieldSpec(1.5, 0.5),
    "capability_text": FieldSpec(0.8, 0.75),
    "pattern": FieldSpec(0.8, 0.75),
    "use_cases": FieldSpec(1.2, 0.75),
    "examples": FieldSpec(1.5, 0.75, evidence=0.5),
    "example_entities": FieldSpec(0.2, 0.75, evidence=0.2),
}
PATTERN_FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec(1.5, 0.0),
    "description": FieldSpec(1.0, 0.75),
    "use_cases": FieldSpec(1.5, 0.75),
    "capability": FieldSpec(1.0, 0.5),
    "capability_text": FieldSpec(0.7, 0.75),
}
FUZZY_WEIGHT = 0.8
# A platform named in the request's words ("on the windows file server", "ubuntu box", "pod"):
# tools of that platform gain PLATFORM_BOOST of their score; when an OS is named, tools bound
# to another OS lose PLATFORM_PENALTY. Portable, cloud and custom tools are left alone.
# Measured: neutral on the dev and held-out sets (few of their misses hinge on the OS); larger
# values began to override clear text evidence ("no docker" made a container tool win).
PLATFORM_BOOST = 0.1
PLATFORM_PENALTY = 0.2
OS_NAMES = frozenset({Platform.linux.value, Platform.windows.value, Platform.macos.value})

# A pattern's document: the terms of each of PATTERN_FIELDS, in that order. Held without
# the field names (a (field, terms) pair is 56 bytes: 1.6 KiB a generated tool's six
# patterns); FieldScorer reads them in that order.
PatternDoc = tuple[Terms, ...]
_PATTERN_FIELD_NAMES = tuple(PATTERN_FIELDS)
# Capability names whose tools CatalogIndex.offering keeps (Stage A names a few).
MAX_OFFERING = 1024
# Tools whose pattern tables an index keeps (`pattern_table`): past it the kept tables are
# dropped at once and made again by the next requests, so an index's memory does not grow
# with every tool a long run of varied selects has scored (~20 KiB a starter tool with its
# FieldScorer documents, tracemalloc: ~2 GiB were 100,000 such tools all scored once). A
# request tables the ~20 tools it shortlists; above TABLE_AHEAD_MAX_TOOLS, so every tool of
# a catalog tabled ahead stays.
TABLED_TOOLS = 2_048


def canonical_names(vocabulary: Vocabulary | None) -> dict[str, str]:
    """Every vocabulary name and alias -> its canonical name, as a plain dict (the model's
    resolve() goes through pydantic's private-attribute lookup: 1 s per 44,000 calls)."""
    table: dict[str, str] = {}
    if vocabulary is not None:
        for entry in vocabulary.vocabulary:
            for word in (entry.name, *entry.aliases):
                table[word] = entry.name
    return table


class _Documents:
    """Builds tool and pattern documents from shared, cached term tuples: a catalog repeats
    its capability and pattern texts, so each distinct one is tokenised once."""

    def __init__(self, vocabulary: Vocabulary | None, canonical: dict[str, str]) -> None:
        self.entries: dict[str, tuple[list[str], str]] = {}
        if vocabulary is not None:
            for entry in vocabulary.vocabulary:
                self.entries[entry.name] = (entry.aliases, entry.description)
        self.canonical = canonical
        self._capabilities: dict[tuple[str, str], tuple[Terms, Terms]] = {}
        self._patterns: dict[tuple[object, ...], PatternDoc] = {}
        # Equal pattern documents, and equal term tuples in them, held once (see _held).
        self._distinct: dict[PatternDoc, PatternDoc] = {}
        self._terms: dict[Terms, Terms] = {}
        self._capability_sets: dict[frozenset[str], frozenset[str]] = {}
        self._blocks: dict[tuple[object, ...], list[Component]] = {}
        self.limit = 0  # see oversized

    def size(self) -> int:
        return len(self._capabilities) + len(self._patterns) + len(self._blocks)

    def oversized(self) -> bool:
        """Whether it holds over twice the texts it held after its first build (plus some):
        edits to capabilities and patterns add texts, and a carried table must not grow
        without bound, so the next build starts a new one."""
        return self.size() > self.limit

    def capability(self, capability: Capability) -> tuple[Terms, Terms]:
        """The capability's name terms (with its vocabulary aliases) and its text terms."""
        key = (capability.name, capability.description)
        found = self._capabilities.get(key)
        if found is None:
            name = self.canonical.get(capability.name, capability.name)
            aliases, description = self.entries.get(name, ([], ""))
            names = (
                capability.name,
                *tokens(" ".join([capability.name, *aliases]).replace("_", " ")),
            )
            text = tokens(affirmed(capability.description)) + tokens(description)
            found = self._capabilities[key] = (names, text)
        return found

    def pattern(self, pattern: Pattern, capability: tuple[Terms, Terms]) -> PatternDoc:
        key = (pattern.name, pattern.description, *pattern.typical_use_cases, capability)
        found = self._patterns.get(key)
        if found is None:
            doc = (  # in PATTERN_FIELDS' order
                tokens(pattern.name.replace("_", " ")),
                tokens(affirmed(pattern.description)),
                tokens(" ; ".join(pattern.typical_use_cases)),
                capability[0],
                capability[1],
            )
            found = self._patterns[key] = self._held(doc)
        return found

    def capability_set(self, tool: Tool, canonical: Callable[[str], str]) -> frozenset[str]:
        """The canonical names of the tool's capabilities, one set shared by every tool
        that offers the same (a frozenset of three names is 216 bytes)."""
        names = frozenset(canonical(c.name) for c in tool.capabilities)
        return self._capability_sets.setdefault(names, names)

    def _held(self, doc: PatternDoc) -> PatternDoc:
        """`doc` as one object shared by every equal pattern document, its term tuples
        likewise: texts that differ only in what the tokeniser drops (a number, a stop
        word) make equal documents, and pattern names and use cases repeat across tools.
        Each pattern's document was its own five tuples (0.9 KiB a generated tool; the
        pickled index keeps the sharing, so a restart loads them shared too)."""
        found = self._distinct.get(doc)
        if found is None:
            found = tuple(self._terms.setdefault(terms, terms) for terms in doc)
            self._distinct[found] = found
        return found

    def capability_block(self, capability: Capability) -> tuple[list[Component], list[PatternDoc]]:
        """The capability's part of a tool document, its patterns' texts merged per field (the
        same BM25F sums, fewer components to count), and one document per pattern."""
        names, text = cap = self.capability(capability)
        patterns = [self.pattern(p, cap) for p in capability.patterns]
        key = (names, text, *(id(p) for p in patterns))
        found = self._blocks.get(key)
        if found is None:
            pattern_terms = tuple(chain.from_iterable(p[0] + p[1] for p in patterns))
            use_cases = tuple(chain.from_iterable(p[2] for p in patterns))
            found = self._blocks[key] = [
                ("capability", names),
                ("capability_text", text),
                ("pattern", pattern_terms),
                ("use_cases", use_cases),
            ]
        return found, patterns

    def build(self, tool: Tool) -> tuple[list[Component], list[PatternDoc]]:
        """The tool's document and one document per pattern, in order."""
        words, entities = split_entities(" ; ".join(tool.examples))
        doc: list[Component] = [
            ("name", (tool.name, *tokens(tool.name))),
            ("display", tokens(tool.display_name or "")),
            ("tags", tokens(" ".join(tool.tags))),
            ("category", tokens(tool.category)),
            ("description", tokens(affirmed(tool.description))),
            ("examples", words),
            ("example_entities", entities),
        ]
        patterns: list[PatternDoc] = []
        for capability in tool.capabilities:
            block, own = self.capability_block(capability)
            doc += block
            patterns += own
        return doc, patterns


class _Docs(Sequence[Sequence[Component]]):
    """The documents of a new index's tools: the changed ones' as just built (`built`, by
    position), the others' made again by the previous BM25F index (`moved`: each tool's
    position there, see positions_in). BM25FIndex asks only for those it does not reuse."""

    def __init__(
        self, built: dict[int, list[Component]], previous: BM25FIndex | None, moved: list[int]
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
        return self._previous.document(self._moved[i])


def positions_in(before: Sequence[Tool], after: Sequence[Tool]) -> tuple[list[int], set[int]]:
    """For each tool of `after`, its position in `before` when it is the same object there
    (else -1); and the positions of `before` so kept."""
    where = dict(zip(map(id, before), range(len(before)), strict=True))
    moved = list(map(where.get, map(id, after), repeat(-1)))  # C-level: 100,000 tools a write
    return moved, set(moved) - {-1}


def _moved(moved_from: list[int]) -> bool:
    """Whether a kept tool is at another position than before."""
    at = np.asarray(moved_from, dtype=np.int64)
    return bool(((at != np.arange(len(at))) & (at >= 0)).any())


def _per_tool(
    before: npt.NDArray[Any] | None,
    moved: list[int],
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


class _PatternLengths:
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
        previous: _PatternLengths | None,
        added: Sequence[PatternDoc],
        removed: Sequence[PatternDoc],
    ) -> _PatternLengths:
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

    _documents: _Documents
    parts: Interned
    tool_index: BM25FIndex
    _pattern_lengths: _PatternLengths
    _active: npt.NDArray[np.bool_]
    _platforms: npt.NDArray[np.str_]

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
        self.tools: tuple[Tool, ...] = tuple(sorted(snapshot.tools, key=attrgetter("name")))
        # Sorted: bisect finds prefixes.
        self.tool_names: tuple[str, ...] = tuple(map(attrgetter("name"), self.tools))
        self.tool_position = dict(zip(self.tool_names, range(len(self.tools)), strict=True))
        if previous is None or previous._documents.oversized():
            self.canonical = canonical_names(vocabulary)
            self._documents = _Documents(vocabulary, self.canonical)
            fresh = True
        else:
            fresh = False
            self.canonical, self._documents = previous.canonical, previous._documents
        # Where each tool was in `previous` (-1: new or changed), by identity: a catalog
        # version hands unchanged tools on as the same objects.
        self.moved_from, reused = positions_in(previous.tools if previous else (), self.tools)
        # The key of the index this one was derived from, and that index's positions of the
        # tools that changed or went (see CandidateEnumerator).
        self.base = previous.key if previous is not None else None
        self.dropped = [k for k in range(len(previous.tools) if previous else 0) if k not in reused]
        # The changed tools' documents, by position: the others' are their BM25F index's
        # (BM25FIndex.document), which the new index reuses or asks for (see _Documents).
        built: dict[int, list[Component]] = {}
        self.tool_patterns: list[tuple[PatternDoc, ...]] = []
        tool_capabilities: list[frozenset[str]] = []
        for i, (tool, j) in enumerate(zip(self.tools, self.moved_from, strict=True)):
            if previous is not None and j >= 0:
                patterns = previous.tool_patterns[j]
                capabilities = previous.tool_capabilities[j]
            else:
                built[i], own = self._documents.build(tool)
                patterns = tuple(own)  # 64 bytes a tool less than the list
                capabilities = self._documents.capability_set(tool, self.resolve_capability)
            self.tool_patterns.append(patterns)
            tool_capabilities.append(capabilities)
        if fresh:
            self._documents.limit = 2 * self._documents.size() + 1000
        parts = None
        if previous is not None and len(previous.parts.keep) <= 2 * previous.parts.used + 1000:
            parts = previous.parts  # else start afresh: it holds too many texts gone by now
        if previous is not None and self.moved_from == list(range(len(previous.tools))):
            # The same tools at the same places (a restart from the saved index with nothing
            # changed, a change of environment policies): the same BM25F index, which is
            # immutable (its postings again from the same counts: 2.7 s at 100,000 tools).
            self.tool_index = previous.tool_index
        else:
            self.tool_index = BM25FIndex(
                _Docs(built, previous.tool_index if previous else None, self.moved_from),
                TOOL_FIELDS,
                parts=parts,
                previous=previous.tool_index if parts is not None and previous else None,
                kept=self.moved_from,
            )
        self.parts = self.tool_index.parts
        self._set_patterns()
        self._pattern_lengths = _PatternLengths.of(
            previous._pattern_lengths if previous is not None else None,
            [
                p
                for t, j in zip(self.tool_patterns, self.moved_from, strict=True)
                if j < 0
                for p in t
            ],
            [p for k in self.dropped for p in previous.tool_patterns[k]] if previous else [],
        )
        self.tool_capabilities: tuple[frozenset[str], ...] = tuple(tool_capabilities)
        self.vocabulary = vocabulary
        self._start_caches()
        self._active = _per_tool(
            previous._active if previous is not None else None,
            self.moved_from,
            self.tools,
            lambda t: t.enabled and t.status != Status.disabled,
            bool,
        )
        self._platforms = _per_tool(
            previous._platforms if previous is not None else None,
            self.moved_from,
            self.tools,
            lambda t: t.platform.value,
            object,
        ).astype(str)

    def _set_patterns(self) -> None:
        self.pattern_docs = tuple(chain.from_iterable(self.tool_patterns))
        # Patterns are stored tool by tool: tool i owns patterns[start[i]:start[i + 1]].
        per_tool = np.fromiter(map(len, self.tool_patterns), dtype=np.int64, count=len(self.tools))
        self.pattern_tool: IntArray = np.repeat(
            np.arange(len(self.tools), dtype=np.int64), per_tool
        )
        self.pattern_start: IntArray = np.concatenate(([0], np.cumsum(per_tool)))
        self.patterns = PatternEntries(self.tools, self.pattern_tool, self.pattern_start)

    def _start_caches(self) -> None:
        """What requests fill in (a benign race each: the same value either way)."""
        self._pattern_scorer = FieldScorer(PATTERN_FIELDS, self._pattern_lengths.averages())
        self._pattern_tables: dict[int, dict[str, list[tuple[int, float]]]] = {}
        self.tabled_tools = TABLED_TOOLS
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
        derived from this index, which adds to the shared interned texts: they are copied
        under their lock."""
        parts = self.tool_index.parts.copy()
        tool_index = copy.copy(self.tool_index)
        tool_index.parts = parts
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
        self._documents = _Documents(vocabulary, self.canonical)
        self._documents.limit = state["documents_limit"]
        self.moved_from, self.base, self.dropped = list(range(len(self.tools))), None, []
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
            or _moved(self.moved_from)
            or not np.array_equal(self.pattern_start, previous.pattern_start)
        ):
            return None
        return np.flatnonzero(np.asarray(self.moved_from) < 0).tolist()

    def world_mask(self, platform: Platform | None) -> npt.NDArray[np.bool_]:
        """Tools that can serve a request for `platform`: enabled and platform-compatible."""
        mask = self._worlds.get(platform)
        if mask is None:
            fits = np.array(
                [platform_matches(t.platform, platform) for t in self.tools], dtype=bool
            )
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

    def weigh(self, terms: Mapping[str, float]) -> dict[str, float]:
        """The request's terms weighted by their IDF, for `pattern_scores`."""
        return self._pattern_scorer.weigh(terms, self.tool_index)

    def pattern_scores(self, tool: int, weighted: Mapping[str, float]) -> list[float]:
        """BM25F scores of tool `tool`'s patterns for the request (`weigh`ed terms), in
        order. Each tool's patterns are tabled once (term -> saturated frequency in each
        pattern; FieldScorer.table, shared by tools with the same patterns), so a request
        looks each of its terms up once per tool, not per pattern."""
        start, end = int(self.pattern_start[tool]), int(self.pattern_start[tool + 1])
        if end - start == 1:
            return [0.0]  # a lone pattern fits its tool's relevance whatever it scores
        table = self._pattern_tables.get(tool)
        if table is None:
            table = self.pattern_table(tool)
        scores = [0.0] * (end - start)
        for term, weight in weighted.items():
            row = table.get(term)
            if row is not None:
                for k, f in row:
                    scores[k] += weight * f
        return scores

    def pattern_table(self, tool: int) -> dict[str, list[tuple[int, float]]]:
        """Tool `tool`'s patterns tabled by term (see `pattern_scores`), made on first use
        and kept (rulings.rule_ahead makes them ahead for smaller catalogs). A tool with one
        pattern has none: its pattern's score is never read."""
        table = self._pattern_tables.get(tool)
        if table is None:
            start, end = int(self.pattern_start[tool]), int(self.pattern_start[tool + 1])
            if end - start == 1:
                return {}
            table = self._pattern_scorer.table(self.pattern_docs[start:end])
            if len(self._pattern_tables) >= self.tabled_tools:
                self._pattern_tables.clear()  # one atomic step, safe beside other threads
            self._pattern_tables[tool] = table  # a benign race: the same value either way
        return table

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
        return Retrieval(tool_scores, coverage, matches, searched, mass, self.weigh(searched))


def snapshot_key(snapshot: CatalogSnapshot) -> tuple[str, int, float]:
    """Identifies a snapshot's content: a new generation (or source) means a new index."""
    return snapshot.source, snapshot.generation, snapshot.loaded_at.timestamp()
