"""Calibrated profiles: a pattern's declared time and cost blended with what telemetry
observed, by the evidence.

The shrinkage rule. With n observed runs (n >= min_samples, else nothing is learned) the
observation's weight is w = n / (n + k), k = prior_samples (20 by default): the declaration
counts as k runs' worth of evidence. Durations and costs are multiplicative quantities, so
the blend is geometric, and it scales the declared expression rather than replacing it:

    time(inputs) = declared_time(inputs) * (observed_p50 / declared_time(defaults)) ** w

For a constant declaration that is declared^(1-w) * observed^w; for an expression
(`files * 0.02`) the ratio between what ran and what the declaration says at its declared
defaults moves every input's estimate alike (telemetry carries no inputs, so the observation
is read as "this pattern runs r times slower than declared", whatever the inputs). Cost is
blended the same way from the mean reported cost. The source is `declared` while w = 0,
`observed` once w >= OBSERVED_WEIGHT (n >= 19 k: 380 runs by default), `blended` between.

A pattern with enough runs whose success rate is under min_success_rate is unreliable: its
relevance is multiplied by UNRELIABLE_FACTOR and its reasons say so, so it ranks below an
equally fitting reliable one but is not excluded (it may be the only tool that answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from toolcatalog.selection.features import BACKGROUND_AFTER_MS, PatternEstimate, estimate_pattern
from toolcatalog.selection.pattern_entries import PatternEntry

Source = Literal["declared", "observed", "blended"]
OBSERVED_WEIGHT = 0.95
UNRELIABLE_FACTOR = 0.8


class Observed(Protocol):
    """What telemetry observed of one pattern (model.telemetry.ObservedStats)."""

    @property
    def samples(self) -> int: ...
    @property
    def p50_ms(self) -> float: ...
    @property
    def p95_ms(self) -> float: ...
    @property
    def cost_mean(self) -> float | None: ...
    @property
    def cost_samples(self) -> int: ...
    @property
    def success_rate(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ProfileRules:
    prior_samples: int = 20
    min_samples: int = 5
    min_success_rate: float = 0.8

    def weight(self, samples: int) -> float:
        """The observation's share of the blend for `samples` runs (0 under min_samples)."""
        if samples < self.min_samples or samples <= 0:
            return 0.0
        return samples / (samples + self.prior_samples)


@dataclass(frozen=True, slots=True)
class ObservedProfiles:
    """Observed figures per (tool, capability, pattern), immutable: the selector swaps in a
    new object when telemetry is re-read, and rebuilds only its per-pattern estimates."""

    stats: Mapping[tuple[str, str, str], Observed]
    rules: ProfileRules = ProfileRules()

    def get(self, tool: str, capability: str, pattern: str) -> Observed | None:
        return self.stats.get((tool, capability, pattern))


def source_of(weight: float) -> Source:
    if weight <= 0:
        return "declared"
    return "observed" if weight >= OBSERVED_WEIGHT else "blended"


def _scaled(declared: float | None, at_defaults: float | None, seen: float, w: float) -> float:
    """The declared value moved toward what was seen (see the module docstring)."""
    if declared is None or at_defaults is None or at_defaults <= 0 or declared <= 0:
        # Nothing to scale (no declaration, or a zero one): blend the values themselves.
        base = at_defaults if declared is None else declared
        return seen if base is None else (1.0 - w) * base + w * seen
    return float(declared * (max(seen, 1e-6) / at_defaults) ** w)


def calibrate(
    estimate: PatternEstimate,
    at_defaults: PatternEstimate,
    observed: Observed | None,
    rules: ProfileRules,
) -> PatternEstimate:
    """`estimate` (declared, for the request's inputs) calibrated by `observed`;
    `at_defaults` is the declared estimate for the pattern's declared defaults."""
    if observed is None:
        return estimate
    w = rules.weight(observed.samples)
    if w <= 0:
        return replace(estimate, samples=observed.samples)
    time_ms = _scaled(estimate.time_ms, at_defaults.time_ms, observed.p50_ms, w)
    cost = estimate.cost
    if observed.cost_mean is not None:
        wc = rules.weight(observed.cost_samples)
        if wc > 0:
            cost = _scaled(estimate.cost, at_defaults.cost, observed.cost_mean, wc)
    return replace(
        estimate,
        time_ms=round(time_ms, 3),
        cost=None if cost is None else round(cost, 6),
        background=estimate.forced_background or time_ms > BACKGROUND_AFTER_MS,
        source=source_of(w),
        samples=observed.samples,
        declared_time_ms=estimate.time_ms,
        observed_p50_ms=observed.p50_ms,
        observed_p95_ms=observed.p95_ms,
        success_rate=observed.success_rate,
    )


def _reliability(observed: Observed | None, rules: ProfileRules) -> tuple[float, str | None]:
    """The relevance factor and the reason for a pattern whose observed success rate is
    under the threshold (1.0 and None otherwise)."""
    if observed is None or observed.samples < rules.min_samples:
        return 1.0, None
    rate = observed.success_rate
    if rate >= rules.min_success_rate:
        return 1.0, None
    return UNRELIABLE_FACTOR, (
        f"unreliable: observed success rate {rate:.0%} over {observed.samples} runs, under "
        f"{rules.min_success_rate:.0%} (scored lower)"
    )


def calibrated(
    profiles: ObservedProfiles | None, entry: PatternEntry, declared: PatternEstimate
) -> PatternEstimate:
    """The entry's `declared` estimate calibrated by what was observed of its pattern."""
    seen = None if profiles is None else profiles.get(*_key(entry))
    if profiles is None or seen is None:
        return declared
    return calibrate(declared, estimate_pattern(entry.pattern, {}), seen, profiles.rules)


def reliability(
    profiles: ObservedProfiles | None, entry: PatternEntry
) -> tuple[float, tuple[str, ...]]:
    """The entry's relevance factor and its reason, if unreliable (see _reliability)."""
    if profiles is None:
        return 1.0, ()
    factor, note = _reliability(profiles.get(*_key(entry)), profiles.rules)
    return factor, (() if note is None else (note,))


def _key(entry: PatternEntry) -> tuple[str, str, str]:
    return entry.tool.name, entry.capability.name, entry.pattern.name
