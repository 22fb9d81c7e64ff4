"""Features of one candidate pattern: its estimates (expressions evaluated with the request's
inputs over the pattern's declared defaults) and each preference dimension on 0..1."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from toolcatalog.model.expressions import ExpressionError, evaluate_number, parse_expression
from toolcatalog.model.pattern import Pattern
from toolcatalog.selection.inputs import Inputs, check_inputs
from toolcatalog.selection.models import Execution, SlaClass

# Time on a log scale: 50 ms (or less) is as fast as it gets, 60 s (or more) as slow; the seed
# system's bounds. A log scale because 100 ms vs 1 s matters as much to a person as 6 s vs 60 s.
TIME_FAST_MS = 50.0
TIME_SLOW_MS = 60_000.0
BACKGROUND_AFTER_MS = 5_000.0
INTERACTIVE_UNDER_MS = 1_000.0
BATCH_UNDER_MS = 10_000.0
# Cost, in the catalog's units (API calls, connections, scans), on a log scale too: 1 unit (or
# less) is as cheap as it gets, 100 (or more) as dear. An absolute scale, not one relative to the
# candidates in play, so removing a candidate that did not win never changes the decision. The
# starter catalog's costs: median 1, 95th percentile 20, a few in the thousands.
COST_CHEAP = 1.0
COST_DEAR = 100.0
# The value of a time or cost whose expression could not be evaluated.
UNKNOWN = 0.5


@dataclass(frozen=True, slots=True)
class PatternEstimate:
    """A pattern's estimates for one request; None where an expression could not be evaluated
    (`problems` says why)."""

    time_ms: float | None
    cost: float | None
    background: bool
    problems: tuple[str, ...] = ()
    # requires_background_if held (background whatever the time).
    forced_background: bool = False
    # Calibration (selection/profiles.py): where time_ms comes from and the evidence.
    source: Literal["declared", "observed", "blended"] = "declared"
    samples: int = 0
    declared_time_ms: float | None = None
    observed_p50_ms: float | None = None
    observed_p95_ms: float | None = None
    success_rate: float | None = None

    @property
    def sla(self) -> SlaClass:
        if self.time_ms is None:
            return "batch"
        if self.time_ms < INTERACTIVE_UNDER_MS:
            return "interactive"
        return "batch" if self.time_ms < BATCH_UNDER_MS else "background"

    @property
    def execution(self) -> Execution:
        return "background" if self.background else "inline"


def _environment(pattern: Pattern, inputs: Inputs) -> dict[str, float | bool]:
    env: dict[str, float | bool] = dict(pattern.input_defaults())
    for key, value in inputs.items():
        if isinstance(value, bool | int | float):
            env[key] = value if isinstance(value, bool) else float(value)
    return env


def _number(
    value: float | str, env: Mapping[str, float | bool], label: str
) -> tuple[float | None, str | None]:
    try:
        result = evaluate_number(value, env)
    except ExpressionError as exc:
        return None, f"{label} not evaluated: {exc}"
    if result < 0:
        return 0.0, f"{label} is {result:g} for these inputs; counted as 0"
    return result, None


def estimate_pattern(pattern: Pattern, inputs: Inputs, label: str = "") -> PatternEstimate:
    """Evaluate the pattern's time, cost and background condition with the request's inputs
    its schema accepts (see inputs.check_inputs; `label` names the pattern in the lines);
    never raises (a bad or incomplete expression yields None and a problem line, so one
    pattern cannot fail a select)."""
    if not inputs and (plain := _at_defaults(pattern)) is not None:
        return plain
    checked = check_inputs(pattern, inputs, label or pattern.name)
    env = _environment(pattern, checked.accepted)
    problems: list[str] = list(checked.problems)
    time_ms, problem = _number(pattern.profile.time_estimate_ms, env, "time estimate")
    if problem:
        problems.append(problem)
    cost, problem = _number(pattern.profile.cost_estimate, env, "cost estimate")
    if problem:
        problems.append(problem)
    forced = False
    condition = pattern.policy.requires_background_if
    if condition is not None:
        try:
            forced = parse_expression(condition).evaluate(env) is True
        except ExpressionError as exc:
            problems.append(f"requires_background_if not evaluated: {exc}")
    background = forced or (time_ms is not None and time_ms > BACKGROUND_AFTER_MS)
    return PatternEstimate(time_ms, cost, background, tuple(problems), forced)


def _at_defaults(pattern: Pattern) -> PatternEstimate | None:
    """estimate_pattern without inputs when it has nothing to say but the numbers: the
    pattern's estimates at its input defaults, which its validation evaluated and kept
    (Pattern.estimates_at_defaults). None (evaluate in full) for what may add a problem line
    or force the background: an estimate that needs an input without a default or is
    negative, a required input without a default, a background condition. The first ruling
    of a pooled tool evaluated its patterns' expressions again: ~29 us a pattern, 2 of a
    10,000-tool catalog's 19 ms of CPU for a new request (load ~7)."""
    if pattern.policy.requires_background_if is not None:
        return None
    time_ms, cost = pattern.estimates_at_defaults
    if time_ms is None or cost is None:
        return None
    time_ms, cost = float(time_ms), float(cost)
    if not (math.isfinite(time_ms) and math.isfinite(cost)) or time_ms < 0 or cost < 0:
        return None
    props = pattern.inputs.get("properties", {})
    required = pattern.inputs.get("required", [])
    if isinstance(required, list) and any("default" not in props.get(n, {}) for n in required):
        return None
    return PatternEstimate(time_ms, cost, time_ms > BACKGROUND_AFTER_MS)


def speed_score(time_ms: float | None) -> float:
    """1 at 50 ms or faster, 0 at 60 s or slower, log-linear between."""
    if time_ms is None:
        return UNKNOWN
    t = min(max(time_ms, TIME_FAST_MS), TIME_SLOW_MS)
    return 1.0 - math.log(t / TIME_FAST_MS) / math.log(TIME_SLOW_MS / TIME_FAST_MS)


def cost_score(cost: float | None) -> float:
    """1 at 1 unit or less, 0 at 100 units or more, log-linear between."""
    if cost is None:
        return UNKNOWN
    c = min(max(cost, COST_CHEAP), COST_DEAR)
    return 1.0 - math.log(c / COST_CHEAP) / math.log(COST_DEAR / COST_CHEAP)


@dataclass(frozen=True, slots=True)
class Dimensions:
    """The five preference dimensions of one pattern, each 0..1 and higher is better, each a
    function of the pattern and the request's inputs alone (never of the other candidates)."""

    speed: float
    cost: float
    complexity: float
    accuracy: float
    completeness: float


def dimensions(pattern: Pattern, estimate: PatternEstimate) -> Dimensions:
    profile = pattern.profile
    return Dimensions(
        speed=speed_score(estimate.time_ms),
        cost=cost_score(estimate.cost),
        complexity=1.0 - profile.complexity,
        accuracy=profile.accuracy,
        completeness=profile.completeness,
    )
