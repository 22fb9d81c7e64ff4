"""Policy rulings: each pattern of a tool judged under a request's constraints (platform,
environment, approvals; policy.py) with its estimates (features.py, calibrated by telemetry's
figures, profiles.py). They depend on the constraints and the inputs, not on the request's
words, so for requests without `inputs` (the usual kind) they are kept per constraint set and
computed once per tool the first time a request pools it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from toolcatalog.model.environment import DEFAULT_POLICIES, EnvironmentRules, Outcome
from toolcatalog.model.tool import Status
from toolcatalog.selection.features import (
    Dimensions,
    PatternEstimate,
    dimensions,
    estimate_pattern,
)
from toolcatalog.selection.models import Excluded, SelectionRequest
from toolcatalog.selection.policy import PolicyContext, judge_pattern, tool_exclusions
from toolcatalog.selection.profiles import ObservedProfiles, calibrated, reliability
from toolcatalog.selection.retrieval import CatalogIndex, PatternEntry

DEPRECATED_FACTOR = 0.85
# Constraint sets whose policy rulings are kept (see Rulings.ruling).
MAX_CONTEXTS = 32


@dataclass(frozen=True, slots=True)
class Verdict:
    """A pattern's policy outcome (allowed or needs_approval), the rule that produced it and
    what approval it asks for."""

    outcome: Outcome
    rule: str
    approval: str | None


@dataclass(frozen=True, slots=True)
class Ruled:
    """An allowed pattern under some constraints, before the request's text is considered."""

    j: int
    entry: PatternEntry
    capability: str  # canonical
    factor: float
    estimate: PatternEstimate
    dims: Dimensions
    verdict: Verdict
    notes: tuple[str, ...]


@dataclass(slots=True)
class Ruling:
    excluded: list[Excluded]
    allowed: list[Ruled]
    # Preference weights -> the utility of each allowed pattern (see _finish).
    utilities: dict[tuple[float, ...], list[float]] = field(default_factory=dict)


class Rulings:
    """The rulings of one index's patterns under telemetry's `observed` figures (a new
    observation makes a new Rulings: the kept ones used the previous figures)."""

    def __init__(self, index: CatalogIndex, observed: ObservedProfiles | None = None) -> None:
        self.index = index
        self.observed = observed
        self._default_estimates: dict[int, tuple[PatternEstimate, Dimensions]] = {}
        self._rulings: dict[PolicyContext, dict[int, Ruling]] = {}

    def carried(self, index: CatalogIndex, changed: Sequence[int]) -> Rulings:
        """These rulings for `index`, a later generation whose tools other than `changed`
        are this one's at the same positions (CatalogIndex.changed_since): what was ruled
        for the others is kept, so the selects after a write do not rule every pooled tool
        again."""
        out = Rulings(index, self.observed)
        gone = set(changed)
        out._default_estimates = {
            j: found
            for j, found in list(self._default_estimates.items())
            if int(index.pattern_tool[j]) not in gone
        }
        out._rulings = {
            ctx: {i: r for i, r in list(rulings.items()) if i not in gone}
            for ctx, rulings in list(self._rulings.items())
        }
        return out

    def environment(self, ctx: PolicyContext) -> tuple[EnvironmentRules, str] | None:
        if ctx.environment is None:
            return None
        policies = self.index.snapshot.environments or DEFAULT_POLICIES
        return policies.rules(ctx.environment)

    def ruling(self, tool_index: int, request: SelectionRequest, ctx: PolicyContext) -> Ruling:
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

    def _rule(self, tool_index: int, request: SelectionRequest, ctx: PolicyContext) -> Ruling:
        index = self.index
        tool = index.tools[tool_index]
        env = self.environment(ctx)
        reasons = tool_exclusions(tool, ctx, env)
        if reasons:
            return Ruling(
                [Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)], []
            )
        ruled = Ruling([], [])
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
            factor, unreliable = reliability(self.observed, entry)
            verdict = judge_pattern(entry.pattern, estimate, ctx, env)
            if verdict.exclusions:
                ruled.excluded.append(
                    Excluded(
                        tool=entry.tool.name,
                        capability=entry.capability.name,
                        pattern=entry.pattern.name,
                        effect=entry.pattern.effect,
                        reasons=verdict.exclusions,
                    )
                )
                continue
            ruled.allowed.append(
                Ruled(
                    j,
                    entry,
                    index.resolve_capability(entry.capability.name),
                    status_factor * factor,
                    estimate,
                    dims,
                    Verdict(verdict.outcome, verdict.rule, verdict.approval),
                    (*status_notes, *unreliable, *verdict.notes, *estimate.problems),
                )
            )
        return ruled

    def _estimate(
        self, j: int, entry: PatternEntry, request: SelectionRequest
    ) -> tuple[PatternEstimate, Dimensions]:
        """The pattern's estimates (calibrated by telemetry, see profiles.py) and dimensions;
        those for its declared defaults (no `inputs`, the usual request) are computed once
        per index and observation."""
        if request.inputs:
            label = f"{entry.tool.name}.{entry.pattern.name}"
            estimate = calibrated(
                self.observed, entry, estimate_pattern(entry.pattern, request.inputs, label)
            )
            return estimate, dimensions(entry.pattern, estimate)
        cached = self._default_estimates.get(j)
        if cached is None:
            estimate = calibrated(self.observed, entry, estimate_pattern(entry.pattern, {}))
            cached = self._default_estimates[j] = (estimate, dimensions(entry.pattern, estimate))
        return cached
