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
import numpy.typing as npt

from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Capability, Pattern, Platform, Status, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.selection.bm25 import BM25FIndex, FieldSpec, FloatArray, IntArray
from toolcatalog.selection.policy import platform_matches
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


class _Documents:
    """Builds the tool and pattern documents, tokenising each capability and pattern text once
    (a catalog repeats them: 10,000 generated tools tokenise in about a second)."""

    def __init__(self, vocabulary: Vocabulary | None) -> None:
        self.entries: dict[str, tuple[list[str], str]] = {}
        if vocabulary is not None:
            for entry in vocabulary.vocabulary:
                self.entries[entry.name] = (entry.aliases, entry.description)
        self.vocabulary = vocabulary

    def capability(self, capability: Capability) -> tuple[list[str], list[str]]:
        """The capability's name terms (with its vocabulary aliases) and its text terms."""
        aliases, description = self.entries.get(
            _canonical(capability.name, self.vocabulary), ([], "")
        )
        names = [
            capability.name,
            *tokenize(" ".join([capability.name, *aliases]).replace("_", " ")),
        ]
        return names, tokenize(capability.description + " " + description)

    @staticmethod
    def pattern(pattern: Pattern) -> dict[str, list[str]]:
        return {
            "name": tokenize(pattern.name.replace("_", " ")),
            "description": tokenize(pattern.description),
            "use_cases": tokenize(" ; ".join(pattern.typical_use_cases)),
            "limitations": tokenize(" ; ".join(pattern.profile.limitations)),
        }

    def build(self, tool: Tool) -> tuple[dict[str, list[str]], list[dict[str, list[str]]]]:
        """The tool's document and one document per pattern, in order."""
        doc: dict[str, list[str]] = {
            "name": [tool.name, *tokenize(tool.name)],
            "display": tokenize(tool.display_name or ""),
            "tags": tokenize(" ".join(tool.tags)),
            "category": tokenize(tool.category),
            "description": tokenize(tool.description),
            "examples": tokenize(" ; ".join(tool.examples)),
            "capability": [],
            "capability_text": [],
            "pattern": [],
            "use_cases": [],
            "limitations": [],
        }
        patterns: list[dict[str, list[str]]] = []
        for capability in tool.capabilities:
            names, text = self.capability(capability)
            doc["capability"] += names
            doc["capability_text"] += text
            for pattern in capability.patterns:
                own = self.pattern(pattern)
                doc["pattern"] += own["name"] + own["description"]
                doc["use_cases"] += own["use_cases"]
                doc["limitations"] += own["limitations"]
                patterns.append(own | {"capability": names, "capability_text": text})
        return doc, patterns


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
        documents = _Documents(vocabulary)
        tool_docs: list[dict[str, list[str]]] = []
        entries: list[PatternEntry] = []
        pattern_docs: list[dict[str, list[str]]] = []
        for i, tool in enumerate(self.tools):
            doc, patterns = documents.build(tool)
            tool_docs.append(doc)
            pattern_docs += patterns
            entries += [
                PatternEntry(i, tool, capability, pattern)
                for capability in tool.capabilities
                for pattern in capability.patterns
            ]
        self.tool_index = BM25FIndex(tool_docs, TOOL_FIELDS)
        self.patterns = tuple(entries)
        self.pattern_tool: IntArray = np.array([e.tool_index for e in entries], dtype=np.int64)
        # Patterns are stored tool by tool: tool i owns patterns[start[i]:start[i + 1]].
        self.pattern_start: IntArray = np.searchsorted(
            self.pattern_tool, np.arange(len(self.tools) + 1)
        )
        self.pattern_index = BM25FIndex(pattern_docs, PATTERN_FIELDS, spelling=False)
        self.tool_capabilities: tuple[frozenset[str], ...] = tuple(
            frozenset(_canonical(c.name, vocabulary) for c in t.capabilities) for t in self.tools
        )
        self.vocabulary = vocabulary
        self._active = np.array(
            [t.enabled and t.status != Status.disabled for t in self.tools], dtype=bool
        )
        self._worlds: dict[Platform | None, npt.NDArray[np.bool_]] = {}

    def world_mask(self, platform: Platform | None) -> npt.NDArray[np.bool_]:
        """Tools that can serve a request for `platform`: enabled and platform-compatible."""
        mask = self._worlds.get(platform)
        if mask is None:
            fits = np.array(
                [platform_matches(t.platform, platform) for t in self.tools], dtype=bool
            )
            mask = self._worlds[platform] = self._active & fits
        return mask

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
