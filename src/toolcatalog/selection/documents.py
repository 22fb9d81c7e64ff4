"""The documents the catalog index counts: each tool's text by BM25F field (its name, tags,
description, capabilities with their vocabulary aliases, patterns, examples) and one document
per pattern, with the field weights; each distinct capability and pattern text tokenised once.

Capability names are indexed with their vocabulary aliases and description, so text written
in another team's words still meets ours.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from itertools import chain

from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Capability, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.selection.bm25 import Component, FieldSpec
from toolcatalog.selection.hosts import split_entities
from toolcatalog.selection.interned import Terms
from toolcatalog.selection.negation import affirmed
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

# A pattern's document: the terms of each of PATTERN_FIELDS, in that order. Held without
# the field names (a (field, terms) pair is 56 bytes: 1.6 KiB a generated tool's six
# patterns); FieldScorer reads them in that order.
PatternDoc = tuple[Terms, ...]


def canonical_names(vocabulary: Vocabulary | None) -> dict[str, str]:
    """Every vocabulary name and alias -> its canonical name, as a plain dict (the model's
    resolve() goes through pydantic's private-attribute lookup: 1 s per 44,000 calls)."""
    table: dict[str, str] = {}
    if vocabulary is not None:
        for entry in vocabulary.vocabulary:
            for word in (entry.name, *entry.aliases):
                table[word] = entry.name
    return table


class Documents:
    """Builds tool and pattern documents from shared, cached term tuples: a catalog repeats
    its capability and pattern texts, so each distinct one is tokenised once."""

    def __init__(self, vocabulary: Vocabulary | None, canonical: dict[str, str]) -> None:
        self.entries: dict[str, tuple[list[str], str]] = {}
        if vocabulary is not None:
            for entry in vocabulary.vocabulary:
                self.entries[entry.name] = (entry.aliases, entry.description)
        self.canonical = canonical
        self._forget()
        self.limit = 0  # see oversized

    def _forget(self) -> None:
        self._capabilities: dict[tuple[str, str], tuple[Terms, Terms]] = {}
        self._patterns: dict[tuple[object, ...], PatternDoc] = {}
        # Equal pattern documents, and equal term tuples in them, held once (see _held).
        self._distinct: dict[PatternDoc, PatternDoc] = {}
        self._terms: dict[Terms, Terms] = {}
        self._capability_sets: dict[frozenset[str], frozenset[str]] = {}
        self._blocks: dict[tuple[object, ...], list[Component]] = {}

    def emptied(self) -> Documents:
        """This table without its texts (the same vocabulary and limit), as a restart's index
        starts (CatalogIndex.restored): a fresh build's table held every distinct capability
        and pattern text of the catalog with its terms (~1.6 KiB a generated tool, 157 MiB at
        100,000), live for the index's lifetime although only later builds derived from it
        read it, for the texts of the tools they change."""
        out = copy.copy(self)
        out._forget()
        return out

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
