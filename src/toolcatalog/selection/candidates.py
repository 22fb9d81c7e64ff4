"""CandidateEnumerator (the seed's name): from retrieval scores to scored, policy-checked
(tool, capability, pattern) candidates, best pattern per tool, in a deterministic order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from toolcatalog.model.tool import Status
from toolcatalog.selection.features import (
    Dimensions,
    PatternEstimate,
    dimensions,
    estimate_pattern,
)
from toolcatalog.selection.models import Excluded, RetrievalMethod, SelectionRequest, Weights
from toolcatalog.selection.policy import PolicyContext, judge_pattern, tool_exclusions
from toolcatalog.selection.retrieval import CatalogIndex, PatternEntry, Retrieval
from toolcatalog.selection.scoring import final_score, normalise_costs, utility
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text import platform_hint, query_terms

# Tools scored in full per request: the most relevant POOL_MIN (or 4 x top_k), so the cost of
# a select does not grow with the catalog once retrieval has ranked it.
POOL_MIN = 20
# Stage A evidence, in units of the best text score: offering a capability Stage A named lifts
# a tool into play without outranking a tool the text itself points at; a service or command
# entity that names a tool is stronger evidence.
CAPABILITY_BOOST = 0.35
ENTITY_BOOST = 0.6
# A pattern's own text moves it within its tool by up to PATTERN_SHARE of the tool's relevance;
# PATTERN_SMOOTHING (BM25 units) keeps one stray shared word from deciding between patterns.
PATTERN_SHARE = 0.25
PATTERN_SMOOTHING = 1.0
DEPRECATED_FACTOR = 0.85
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
    cost: float = 0.5  # the cost dimension among the candidates in play (dims.cost is unset)


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
    relevant: bool  # some tool is about the request (see _about_request), or Stage A says so
    decidable: bool  # the best allowed tool is about the request and near the most relevant
    matched: dict[str, list[str]] = field(default_factory=dict)  # tool -> request terms it has
    retrieval: RetrievalMethod = "lexical"


# Semantic fusion (Settings.semantic). Reciprocal-rank fusion (Cormack et al. 2009, the usual
# k = 60, not tuned) merges the lexical and semantic rankings into the pool; a pooled tool's
# relevance is the mean of its lexical score (over the best) and its semantic score placed
# between SEMANTIC_FLOOR and the best: rank-fused values squeeze the top ten into 0.85..1 and
# would hand the choice to preferences. SEMANTIC_FLOOR is about the cosine of unrelated text
# (out-of-scope requests: median best cosine 0.24).
RRF_K = 60
FUSION_DEPTH = 200
SEMANTIC_SHARE = 0.5
SEMANTIC_FLOOR = 0.2
# With embeddings, a request is about the catalog when the lexical test passes and some tool
# text is at least SEMANTIC_RELEVANT close, or any is SEMANTIC_SURE close (a margin above every
# out-of-scope request). Measured: in-scope requests' best cosine is >= 0.42 for all but one
# of 180 (0.33, "which OU is mlopez in, and what's her pwdLastSet?"); out-of-scope requests'
# is under 0.38 but for one (0.44, "book a flight to tokyo", whose lexical test then fails).
SEMANTIC_RELEVANT = 0.4
SEMANTIC_SURE = 0.55

# Is a tool about the request at all? Measured on the dev set and on out-of-domain requests
# (weather, recipes, travel): unrelated requests touch one catalog word by accident ("writ",
# "tomorrow") and cover under 0.35 of the request; real ones cover more, or match two words.
MIN_COVERAGE = 0.2
MIN_SINGLE_WORD_COVERAGE = 0.3
# ...and its score must reach this share of the most it could score (every content word
# matched and saturated): coverage says how much of the request a tool touches, strength how
# firmly. Out-of-scope requests touch catalog words once each, in passing ("next", "good").
# Measured on 180 in-scope and 34 out-of-scope requests (bench/data): 0.15 refuses 5 more
# out-of-scope requests and wrongly refuses 1 in-scope one (0.2: 8 more, 2 wrongly).
MIN_STRENGTH = 0.15
# When policy removed the most relevant tools, the best allowed one must still reach this share
# of their relevance, or the honest answer is "no allowed tool", not a far-fetched substitute.
MIN_RELATIVE_RELEVANCE = 0.35


def _about_request(
    coverage: npt.NDArray[np.float64],
    matches: npt.NDArray[np.float64],
    strength: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    broad = (coverage >= MIN_COVERAGE) & ((matches >= 2) | (coverage >= MIN_SINGLE_WORD_COVERAGE))
    return broad & (strength >= MIN_STRENGTH)


def _top(scores: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Indexes of the `count` highest positive scores, best first, ties by index (tool name):
    a partition then a sort of the few, not a sort of the whole catalog (0.5 ms at 10,000)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > count:
        cut = np.partition(scores[positive], len(positive) - count)[len(positive) - count]
        positive = positive[scores[positive] >= cut]
    ranked = positive[np.lexsort((positive, -scores[positive]))]
    return ranked[:count].astype(np.int64)


def _fuse(
    semantic: SemanticView,
    world: npt.NDArray[np.bool_],
    lexical: npt.NDArray[np.float64],
    pool: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]:
    """The pool (best first) by reciprocal-rank fusion of the lexical and semantic rankings,
    each tool's fused relevance (the most relevant pooled tool at 1), and the best single
    text cosine of any tool that can serve the request."""
    mean, best = semantic.scores()
    cosine = np.where(world, mean, -1.0)
    fused = np.zeros(len(lexical))
    for ranking in (_top(lexical, FUSION_DEPTH), _top(cosine + 1.0, FUSION_DEPTH)):
        fused[ranking] += 1.0 / (RRF_K + 1.0 + np.arange(len(ranking)))
    order = _top(fused, pool)
    top_lexical = float(lexical.max(initial=0.0))
    top_cosine = float(cosine.max(initial=-1.0))
    lex = lexical / top_lexical if top_lexical > 0 else lexical
    sem = np.clip((cosine - SEMANTIC_FLOOR) / max(top_cosine - SEMANTIC_FLOOR, 1e-9), 0.0, 1.0)
    relevance = (1.0 - SEMANTIC_SHARE) * lex + SEMANTIC_SHARE * sem
    scale = float(relevance[order].max(initial=0.0)) if len(order) else 0.0
    if scale > 0:
        relevance = relevance / scale
    best_in_world = float(np.where(world, best, -1.0).max(initial=-1.0))
    return order, relevance, best_in_world


class CandidateEnumerator:
    """Stateless apart from the index it reads; one per catalog generation."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        self._default_estimates: dict[int, tuple[PatternEstimate, Dimensions]] = {}
        self._rulings: dict[PolicyContext, dict[int, _Ruling]] = {}

    def enumerate(
        self, request: SelectionRequest, weights: Weights, semantic: SemanticView | None = None
    ) -> Enumeration:
        """Rank the catalog for `request`; with `semantic` (a ready index), fuse embeddings."""
        index = self.index
        retrieval = index.retrieve(query_terms(request.request))
        raw = retrieval.tool_scores.copy()
        coverage = retrieval.tool_coverage.copy()
        matches = retrieval.tool_matches.copy()
        reference = max(float(raw.max(initial=0.0)), 1.0)
        ctx = PolicyContext.of(request)
        if ctx.platform is None:
            raw *= index.platform_factor(platform_hint(retrieval.terms))
        capabilities, named = self._stage_a(request)
        if capabilities or named:
            for i, offered in enumerate(index.tool_capabilities):
                lift = 0.0
                if capabilities and offered & capabilities:
                    lift += CAPABILITY_BOOST * reference
                if index.tools[i].name in named:
                    lift += ENTITY_BOOST * reference
                if lift:
                    raw[i] += lift
                    coverage[i] = max(coverage[i], 0.5)
                    matches[i] = max(matches[i], 2.0)
        pool = max(POOL_MIN, 4 * request.top_k)
        # Tools that cannot run here at all (disabled, another platform) are not part of the
        # request's world: they neither enter the pool nor set the relevance scale.
        world = index.world_mask(ctx.platform)
        in_world = np.where(world, raw, 0.0)
        order = _top(in_world, pool)
        top = float(in_world[order[0]]) if len(order) else 0.0
        relevance = in_world / top if top > 0 else in_world
        semantic_best = None
        if semantic is not None:
            order, relevance, semantic_best = _fuse(semantic, world, in_world, pool)
        scored: list[Scored] = []
        excluded: list[Excluded] = []
        if request.explain:
            outside = _top(raw, pool)
            for i in outside[(raw[outside] > 0) & ~world[outside]]:
                tool = index.tools[int(i)]
                reasons = tool_exclusions(tool, ctx)
                excluded.append(
                    Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)
                )
        for i in order:
            ruled = self._ruling(int(i), request, ctx)
            excluded += ruled.excluded
            if ruled.allowed:
                scored += self._scored(int(i), float(relevance[i]), ruled, retrieval, capabilities)
        self._finish(scored, weights)
        best: dict[str, Scored] = {}
        for s in scored:
            name = s.entry.tool.name
            if name not in best or s.score > best[name].score:
                best[name] = s
        ranked = sorted(best.values(), key=lambda s: (-round(s.score, 9), s.entry.tool.name))
        matched = {
            s.entry.tool.name: index.tool_index.terms_in(
                index.tool_position[s.entry.tool.name], list(retrieval.terms)
            )
            for s in ranked[: request.top_k]
        }
        strength = raw / retrieval.mass if retrieval.mass > 0 else np.zeros_like(raw)
        about = _about_request(coverage, matches, strength)
        relevant = bool(np.any(about[order])) if len(order) else False
        if semantic_best is not None:
            relevant = (relevant and semantic_best >= SEMANTIC_RELEVANT) or (
                semantic_best >= SEMANTIC_SURE
            )
        decidable = relevant and bool(ranked) and ranked[0].relevance >= MIN_RELATIVE_RELEVANCE
        best_coverage = float(coverage[order].max()) if len(order) else 0.0
        method: RetrievalMethod = "lexical" if semantic is None else "hybrid"
        return Enumeration(ranked, excluded, best_coverage, relevant, decidable, matched, method)

    def _stage_a(self, request: SelectionRequest) -> tuple[frozenset[str], frozenset[str]]:
        """Canonical capability names Stage A named, and tool names its entities name."""
        stage_a = request.classification
        if stage_a is None:
            return frozenset(), frozenset()
        caps = frozenset(
            self.index.resolve_capability(c)
            for c in (stage_a.intent.capabilities if stage_a.intent else [])
        )
        named: set[str] = set()
        for entity in stage_a.entities:
            if entity.type in ("service", "command", "application", "database"):
                words = entity.value.strip().lower().split()
                if words:
                    named.add(words[0].replace("-", "_"))
                named.add(entity.value.strip().lower().replace("-", "_").replace(" ", "_"))
        return caps, frozenset(n for n in named if n in self.index.tool_position)

    def _scored(
        self,
        tool_index: int,
        tool_relevance: float,
        ruled: _Ruling,
        retrieval: Retrieval,
        capabilities: frozenset[str],
    ) -> list[Scored]:
        """The tool's allowed patterns for the request: each gets the tool's relevance, moved
        by how well the pattern's own text fits the request (PATTERN_SHARE) and lowered for a
        deprecated tool."""
        own = self.index.pattern_scores(tool_index, retrieval.weighted)
        top_own = max(own, default=0.0)
        start = int(self.index.pattern_start[tool_index])
        out = []
        for p in ruled.allowed:
            fit = (own[p.j - start] + PATTERN_SMOOTHING) / (top_own + PATTERN_SMOOTHING)
            if p.capability in capabilities:
                fit = 1.0
            relevance = tool_relevance * p.factor * (1.0 - PATTERN_SHARE + PATTERN_SHARE * fit)
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
            estimate = estimate_pattern(entry.pattern, request.inputs)
            return estimate, dimensions(entry.pattern, estimate)
        cached = self._default_estimates.get(j)
        if cached is None:
            estimate = estimate_pattern(entry.pattern, {})
            cached = self._default_estimates[j] = (estimate, dimensions(entry.pattern, estimate))
        return cached

    @staticmethod
    def _finish(scored: list[Scored], weights: Weights) -> None:
        # Cost is relative to the candidates in play; the cached dimensions are shared, so the
        # utility takes the cost directly and only reported candidates get a copy with it.
        costs = normalise_costs([s.estimate.cost for s in scored])
        for s, cost in zip(scored, costs, strict=True):
            s.cost = cost
            s.utility = utility(s.dims, weights, cost)
            s.score = final_score(s.relevance, s.utility)
