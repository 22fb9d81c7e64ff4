"""Candidate retrieval: the catalog index built from one snapshot, and the ranked tools and
patterns a request reaches, with how much of the request each covers.

Two BM25F indexes: one over tools (name, tags, description, capabilities, patterns, examples)
decides which tools are relevant; one over patterns (with their capability) decides which way of
using a tool fits best. Capability names are indexed with their vocabulary aliases and
description, so text written in another team's words still meets ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Capability, Pattern, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.selection.bm25 import BM25FIndex, FieldSpec, FloatArray, IntArray
from toolcatalog.selection.text import is_value_term, tokenize

# Field weights: names and tags are short and deliberate, examples are written like requests,
# limitations often name *other* tools ("use lsof") so they count little.
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
    "examples": FieldSpec(1.5, 0.75),
    "limitations": FieldSpec(0.15, 0.75),
}
PATTERN_FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec(1.5, 0.0),
    "description": FieldSpec(1.0, 0.75),
    "use_cases": FieldSpec(1.5, 0.75),
    "capability": FieldSpec(1.0, 0.5),
    "capability_text": FieldSpec(0.7, 0.75),
    "limitations": FieldSpec(0.15, 0.75),
}
FUZZY_WEIGHT = 0.8


@dataclass(frozen=True, slots=True)
class PatternEntry:
    tool_index: int
    tool: Tool
    capability: Capability
    pattern: Pattern


def _capability_terms(capability: Capability, vocabulary: Vocabulary | None) -> list[str]:
    terms = tokenize(capability.name.replace("_", " ")) + [capability.name]
    entry = _vocabulary_entry(capability.name, vocabulary)
    if entry is not None:
        for alias in entry.aliases:
            terms += tokenize(alias.replace("_", " "))
    return terms


def _vocabulary_entry(name: str, vocabulary: Vocabulary | None) -> _Entry | None:
    if vocabulary is None:
        return None
    canonical = vocabulary.resolve(name)
    for entry in vocabulary.vocabulary:
        if entry.name == canonical:
            return _Entry(entry.aliases, entry.description)
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    aliases: list[str]
    description: str


def _capability_text(capability: Capability, vocabulary: Vocabulary | None) -> list[str]:
    entry = _vocabulary_entry(capability.name, vocabulary)
    extra = entry.description if entry is not None else ""
    return tokenize(capability.description + " " + extra)


def _tool_document(tool: Tool, vocabulary: Vocabulary | None) -> dict[str, list[str]]:
    doc: dict[str, list[str]] = {
        "name": [tool.name, *tokenize(tool.name)],
        "display": tokenize(tool.display_name or ""),
        "tags": [t for tag in tool.tags for t in tokenize(tag)],
        "category": tokenize(tool.category),
        "description": tokenize(tool.description),
        "examples": [t for example in tool.examples for t in tokenize(example)],
        "capability": [],
        "capability_text": [],
        "pattern": [],
        "use_cases": [],
        "limitations": [],
    }
    for capability in tool.capabilities:
        doc["capability"] += _capability_terms(capability, vocabulary)
        doc["capability_text"] += _capability_text(capability, vocabulary)
        for pattern in capability.patterns:
            doc["pattern"] += tokenize(pattern.name.replace("_", " ") + " " + pattern.description)
            doc["use_cases"] += [t for use in pattern.typical_use_cases for t in tokenize(use)]
            doc["limitations"] += [
                t for line in pattern.profile.limitations for t in tokenize(line)
            ]
    return doc


def _pattern_document(
    capability: Capability, pattern: Pattern, vocabulary: Vocabulary | None
) -> dict[str, list[str]]:
    return {
        "name": tokenize(pattern.name.replace("_", " ")),
        "description": tokenize(pattern.description),
        "use_cases": [t for use in pattern.typical_use_cases for t in tokenize(use)],
        "capability": _capability_terms(capability, vocabulary),
        "capability_text": _capability_text(capability, vocabulary),
        "limitations": [t for line in pattern.profile.limitations for t in tokenize(line)],
    }


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What a request reaches: raw tool and pattern scores (BM25F units), the share of the
    request's weighted IDF each tool covers (0..1), and the terms actually searched."""

    tool_scores: FloatArray
    tool_coverage: FloatArray
    tool_matches: FloatArray  # how many of the request's content words each tool has
    pattern_scores: FloatArray
    terms: dict[str, float]


class CatalogIndex:
    """Everything the selector needs from one snapshot, built once per generation."""

    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.generation = snapshot.generation
        self.snapshot = snapshot
        self.key = snapshot_key(snapshot)
        vocabulary = snapshot.vocabulary
        self.tools: tuple[Tool, ...] = tuple(sorted(snapshot.tools, key=lambda t: t.name))
        self.tool_position = {t.name: i for i, t in enumerate(self.tools)}
        self.tool_index = BM25FIndex(
            [_tool_document(t, vocabulary) for t in self.tools], TOOL_FIELDS
        )
        entries: list[PatternEntry] = []
        pattern_docs: list[dict[str, list[str]]] = []
        for i, tool in enumerate(self.tools):
            for capability in tool.capabilities:
                for pattern in capability.patterns:
                    entries.append(PatternEntry(i, tool, capability, pattern))
                    pattern_docs.append(_pattern_document(capability, pattern, vocabulary))
        self.patterns = tuple(entries)
        self.pattern_tool: IntArray = np.array([e.tool_index for e in entries], dtype=np.int64)
        # Patterns are stored tool by tool: tool i owns patterns[start[i]:start[i + 1]].
        self.pattern_start: IntArray = np.searchsorted(
            self.pattern_tool, np.arange(len(self.tools) + 1)
        )
        self.pattern_index = BM25FIndex(pattern_docs, PATTERN_FIELDS)
        self.tool_capabilities: tuple[frozenset[str], ...] = tuple(
            frozenset(_canonical(c.name, vocabulary) for c in t.capabilities) for t in self.tools
        )
        self.vocabulary = vocabulary

    def resolve_capability(self, name: str) -> str:
        return _canonical(name, self.vocabulary)

    def retrieve(self, terms: Mapping[str, float]) -> Retrieval:
        """Score every tool and pattern for the request's weighted terms (see `query_terms`).

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
        pattern_scores, _, _ = self.pattern_index.score(searched, {})
        coverage = covered / mass if mass > 0 else np.zeros_like(covered)
        return Retrieval(tool_scores, coverage, matches, pattern_scores, searched)


def _canonical(name: str, vocabulary: Vocabulary | None) -> str:
    if vocabulary is None:
        return name
    return vocabulary.resolve(name) or name


def snapshot_key(snapshot: CatalogSnapshot) -> tuple[str, int, float]:
    """Identifies a snapshot's content: a new generation (or source) means a new index."""
    return snapshot.source, snapshot.generation, snapshot.loaded_at.timestamp()
