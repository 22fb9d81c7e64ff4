"""CandidateEnumerator (the seed's name) runs the per-request stages: retrieve (retrieve.py),
score the pooled tools' allowed patterns under policy (policy.py, features.py, scoring.py),
then gate (gate.py): scored (tool, capability, pattern) candidates, best pattern per tool, in a
deterministic order."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcatalog.model.tool import Status
from toolcatalog.selection.checks import declared_input_names
from toolcatalog.selection.features import (
    Dimensions,
    PatternEstimate,
    dimensions,
    estimate_pattern,
)
from toolcatalog.selection.gate import gate
from toolcatalog.selection.models import Excluded, RetrievalMethod, SelectionRequest, Weights
from toolcatalog.selection.policy import PolicyContext, judge_pattern, tool_exclusions
from toolcatalog.selection.retrieval import CatalogIndex, PatternEntry
from toolcatalog.selection.retrieve import Pool, pool_size, retrieve, top_indexes
from toolcatalog.selection.scoring import final_score, utility
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text import in_user_words, user_words

# A pattern's own text moves it within its tool by up to PATTERN_SHARE of the tool's relevance;
# PATTERN_SMOOTHING (BM25 units) keeps one stray shared word from deciding between patterns.
PATTERN_SHARE = 0.25
PATTERN_SMOOTHING = 1.0
DEPRECATED_FACTOR = 0.85
# See scoring.wants_answer_now: enough to put a tool's inline pattern first, too little to
# hand the request to another tool on its own.
BACKGROUND_FACTOR = 0.9
# Constraint sets whose policy rulings are kept (see CandidateEnumerator._ruling).
MAX_CONTEXTS = 32


@dataclass(slots=True)
class Scored:
    entry: PatternEntry
    relevance: float
    estimate: PatternEstimate
    dims: Dimensions
    requires_approval: bool
    reasons: list[str]
    utility: float = 0.0
    score: float = 0.0
    confidence: float | None = None  # absolute relevance (calibrate.Calibration.confidence)


@dataclass(frozen=True, slots=True)
class _Ruled:
    """An allowed pattern under some constraints, before the request's text is considered."""

    j: int
    entry: PatternEntry
    capability: str  # canonical
    factor: float
    estimate: PatternEstimate
    dims: Dimensions
    approval: bool
    notes: tuple[str, ...]


@dataclass(slots=True)
class _Ruling:
    excluded: list[Excluded]
    allowed: list[_Ruled]


@dataclass(slots=True)
class Enumeration:
    ranked: list[Scored]  # best pattern per tool, best tool first
    excluded: list[Excluded]
    coverage: float  # the best share of the request any pooled tool covers (0..1)
    relevant: bool  # some tool is about the request (see gate.py), or Stage A says so
    decidable: bool  # the best allowed tool is about the request and near the most relevant
    matched: dict[str, list[str]] = field(default_factory=dict)  # tool -> request words it has
    retrieval: RetrievalMethod = "lexical"
    # tool -> every allowed pattern of it, best first (ranked holds the first of each)
    patterns: dict[str, list[Scored]] = field(default_factory=dict)


class CandidateEnumerator:
    """Stateless apart from the index it reads; one per catalog generation."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        self.declared_inputs = declared_input_names(e.pattern for e in index.patterns)
        self._default_estimates: dict[int, tuple[PatternEstimate, Dimensions]] = {}
        self._rulings: dict[PolicyContext, dict[int, _Ruling]] = {}

    def enumerate(
        self,
        request: SelectionRequest,
        weights: Weights,
        semantic: SemanticView | None = None,
        interactive: bool = False,
    ) -> Enumeration:
        """Rank the catalog for `request`; with `semantic` (a ready index), fuse embeddings.
        `interactive` (a question under the default preference): a tool's patterns that must
        run in the background lose BACKGROUND_FACTOR of their relevance."""
        index = self.index
        ctx = PolicyContext.of(request)
        pool = retrieve(index, request, ctx, semantic)
        raw, order, relevance = pool.raw, pool.order, pool.relevance
        scored: list[Scored] = []
        excluded: list[Excluded] = []
        if request.explain:
            outside = top_indexes(raw, pool_size(request))
            for i in outside[(raw[outside] > 0) & ~pool.world[outside]]:
                tool = index.tools[int(i)]
                reasons = tool_exclusions(tool, ctx)
                excluded.append(
                    Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)
                )
        confidence = None
        if pool.calibration is not None and pool.tool_cosine is not None:
            confidence = pool.calibration.confidence(pool.tool_cosine[order])
        for k, i in enumerate(order):
            ruled = self._ruling(int(i), request, ctx)
            excluded += ruled.excluded
            if ruled.allowed:
                found = self._scored(int(i), float(relevance[i]), ruled, pool, interactive)
                if confidence is not None:
                    for s in found:
                        s.confidence = float(confidence[k])
                scored += found
        self._finish(scored, weights)
        by_tool: dict[str, list[Scored]] = {}
        for s in scored:
            by_tool.setdefault(s.entry.tool.name, []).append(s)
        for group in by_tool.values():
            # Stable: equal scores keep the catalog's pattern order, as the first-best did.
            group.sort(key=lambda s: -round(s.score, 9))
        ranked = sorted(
            (group[0] for group in by_tool.values()),
            key=lambda s: (-round(s.score, 9), s.entry.tool.name),
        )
        terms = list(pool.retrieval.terms)
        words = user_words(request.request, index.tool_index.correction)
        matched = {
            s.entry.tool.name: in_user_words(
                words, index.tool_index.terms_in(index.tool_position[s.entry.tool.name], terms)
            )
            for s in ranked[: request.top_k]
        }
        verdict = gate(pool, ranked[0].relevance if ranked else None)
        best_coverage = float(pool.coverage[order].max()) if len(order) else 0.0
        method: RetrievalMethod = "lexical" if semantic is None else "hybrid"
        return Enumeration(
            ranked,
            excluded,
            best_coverage,
            verdict.relevant,
            verdict.decidable,
            matched,
            method,
            by_tool,
        )

    def _scored(
        self,
        tool_index: int,
        tool_relevance: float,
        ruled: _Ruling,
        pool: Pool,
        interactive: bool = False,
    ) -> list[Scored]:
        """The tool's allowed patterns for the request: each gets the tool's relevance, moved
        by how well the pattern's own text fits the request (PATTERN_SHARE) and lowered for a
        deprecated tool."""
        own = self.index.pattern_scores(tool_index, pool.retrieval.weighted)
        top_own = max(own, default=0.0)
        start = int(self.index.pattern_start[tool_index])
        out = []
        for p in ruled.allowed:
            fit = (own[p.j - start] + PATTERN_SMOOTHING) / (top_own + PATTERN_SMOOTHING)
            if p.capability in pool.capabilities:
                fit = 1.0
            relevance = tool_relevance * p.factor * (1.0 - PATTERN_SHARE + PATTERN_SHARE * fit)
            if interactive and p.estimate.background:
                relevance *= BACKGROUND_FACTOR
            out.append(Scored(p.entry, relevance, p.estimate, p.dims, p.approval, list(p.notes)))
        return out

    def _ruling(self, tool_index: int, request: SelectionRequest, ctx: PolicyContext) -> _Ruling:
        """Policy and estimates of a tool's patterns under the request's constraints: the
        same for every request with the same constraints and no `inputs`, so kept for
        MAX_CONTEXTS constraint sets (the oldest dropped first; the usual request has
        none)."""
        if request.inputs:
            return self._rule(tool_index, request, ctx)
        rulings = self._rulings.get(ctx)
        if rulings is None:
            if len(self._rulings) >= MAX_CONTEXTS:
                self._rulings.pop(next(iter(self._rulings)), None)
            rulings = self._rulings[ctx] = {}
        found = rulings.get(tool_index)
        if found is None:
            found = rulings[tool_index] = self._rule(tool_index, request, ctx)
        return found

    def _rule(self, tool_index: int, request: SelectionRequest, ctx: PolicyContext) -> _Ruling:
        index = self.index
        tool = index.tools[tool_index]
        reasons = tool_exclusions(tool, ctx)
        if reasons:
            return _Ruling(
                [Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)], []
            )
        ruled = _Ruling([], [])
        status_factor = 1.0
        status_notes: tuple[str, ...] = ()
        if tool.status == Status.deprecated:
            status_factor = DEPRECATED_FACTOR
            status_notes = ("tool is deprecated (relevance lowered)",)
        elif tool.status == Status.experimental:
            status_notes = ("tool is experimental",)
        start, end = int(index.pattern_start[tool_index]), int(index.pattern_start[tool_index + 1])
        for j in range(start, end):
            entry = index.patterns[j]
            estimate, dims = self._estimate(j, entry, request)
            verdict = judge_pattern(entry.pattern, estimate, ctx)
            if verdict.exclusions:
                ruled.excluded.append(
                    Excluded(
                        tool=entry.tool.name,
                        capability=entry.capability.name,
                        pattern=entry.pattern.name,
                        reasons=verdict.exclusions,
                    )
                )
                continue
            ruled.allowed.append(
                _Ruled(
                    j,
                    entry,
                    index.resolve_capability(entry.capability.name),
                    status_factor,
                    estimate,
                    dims,
                    verdict.requires_approval,
                    (*status_notes, *verdict.notes, *estimate.problems),
                )
            )
        return ruled

    def _estimate(
        self, j: int, entry: PatternEntry, request: SelectionRequest
    ) -> tuple[PatternEstimate, Dimensions]:
        """The pattern's estimates and dimensions; those for its declared defaults (no
        `inputs`, the usual request) are computed once per index."""
        if request.inputs:
            label = f"{entry.tool.name}.{entry.pattern.name}"
            estimate = estimate_pattern(entry.pattern, request.inputs, label)
            return estimate, dimensions(entry.pattern, estimate)
        cached = self._default_estimates.get(j)
        if cached is None:
            estimate = estimate_pattern(entry.pattern, {})
            cached = self._default_estimates[j] = (estimate, dimensions(entry.pattern, estimate))
        return cached

    @staticmethod
    def _finish(scored: list[Scored], weights: Weights) -> None:
        # Every dimension is absolute (features.py): a candidate's score depends on its own
        # relevance, pattern and inputs, never on which other candidates are in play.
        for s in scored:
            s.utility = utility(s.dims, weights)
            s.score = final_score(s.relevance, s.utility)
