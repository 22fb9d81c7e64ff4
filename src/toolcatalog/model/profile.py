"""A pattern's profile (what running it costs and yields) and policy (when it may run)."""

from __future__ import annotations

import math
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from toolcatalog.model.expressions import ExpressionError, evaluate_number, parse_expression
from toolcatalog.model.limits import MAX_NUMBER, number_problem

# A number, or an expression of the pattern's inputs such as "200 + 5 * N".
Estimate = Annotated[
    float | str,
    Field(
        description=f"A finite number from 0 to {MAX_NUMBER:g}, or an expression of the "
        "pattern's inputs, e.g. '50 + 0.02 * files'."
    ),
]
Score = Annotated[float, Field(ge=0.0, le=1.0)]


class Environment(StrEnum):
    production = "production"
    staging = "staging"
    dev = "dev"


class Effect(StrEnum):
    """What running a pattern does to the system it touches; environment policy keys on it."""

    read = "read"  # looks only: status, logs, listings, dry runs
    change = "change"  # changes state that can be changed back: restart, scale, set, reload
    destructive = "destructive"  # loses data or service in a way a re-run cannot undo

    @property
    def changes(self) -> bool:
        return self is not Effect.read


def check_estimate(value: Any) -> Any:
    """A literal must be finite, from 0 to MAX_NUMBER (text such as '1e999' or 'nan' too); an
    expression must parse and its constant parts evaluate (its inputs are checked later).
    Runs before the type check, so that 1e999 gets this message rather than two union ones;
    other types pass through to it."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    if isinstance(value, str):
        return _checked_text(value)
    return _checked_number(value)


@lru_cache(maxsize=4096)
def _checked_text(value: str) -> str | float:
    """check_estimate of a text, kept per text: profiles repeat a few expressions, and
    parsing, checking and writing one back was ~4 us a pattern of every whole read."""
    text = value.strip()
    if not _is_number(text):
        try:
            expression = parse_expression(text)
            expression.check_constants()
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        return str(expression)
    return _checked_number(float(text))


def _checked_number(value: float) -> float:
    if (problem := number_problem(value)) is not None:
        raise ValueError(problem)
    if value < 0:
        raise ValueError("must be >= 0")
    return float(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def estimate_at_defaults(label: str, text: str, defaults: dict[str, float]) -> float:
    """The estimate expression `text` at the input defaults, which must give a number from 0
    to MAX_NUMBER (else ValueError naming `label`): it is what a request without inputs gets,
    and such a selection would otherwise fail. Every name of `text` must have a default."""
    names = parse_expression(text).names
    # Keyed by the defaults it reads, exactly (hex keeps -0.0 apart from 0.0): a catalog
    # repeats a few estimates over thousands of patterns.
    value, problem = _at_defaults(label, text, tuple((n, defaults[n].hex()) for n in sorted(names)))
    if problem is not None:
        raise ValueError(problem)
    return value


@lru_cache(maxsize=4096)
def _at_defaults(
    label: str, text: str, key: tuple[tuple[str, str], ...]
) -> tuple[float, str | None]:
    """(value, None), or (nan, why it is refused): the outcome, so that a cached refusal
    gives the same message as the first."""
    try:
        value = evaluate_number(text, {name: float.fromhex(h) for name, h in key})
    except ExpressionError as exc:
        return math.nan, f"{label}: at the declared input defaults, {exc}"
    if number_problem(value) is not None or value < 0:
        return math.nan, (
            f"{label}: expression {text!r} gives {value:g} at the declared input defaults; "
            f"an estimate must be from 0 to {MAX_NUMBER:g}"
        )
    return value, None


class Profile(BaseModel):
    """Honest estimates for one way of using a capability."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    time_estimate_ms: Estimate = Field(
        default=1000.0, description="End-to-end wall time in milliseconds."
    )
    cost_estimate: Estimate = Field(
        default=1.0, description="Resource units consumed (API calls, connections, scans)."
    )
    complexity: Score = Field(default=0.5, description="0 trivial .. 1 expert-only.")
    accuracy: Score = Field(default=0.8, description="0 guess .. 1 exact.")
    completeness: Score = Field(default=0.8, description="0 partial view .. 1 the whole picture.")
    limitations: list[str] = Field(default_factory=list, description="What it cannot tell you.")

    _check = field_validator("time_estimate_ms", "cost_estimate", mode="before")(check_estimate)


class Policy(BaseModel):
    """Where and how a pattern may run; read by the selector for every candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    production_safe: bool = Field(
        default=False, description="May run against production without a human (read-only)."
    )
    requires_approval: bool = Field(default=False, description="A human must approve each run.")
    max_cost: float | None = Field(
        default=None, ge=0, le=MAX_NUMBER, description="Refuse when cost exceeds this."
    )
    max_execution_time_ms: int | None = Field(
        default=None, ge=0, le=MAX_NUMBER, description="Refuse when the time estimate exceeds this."
    )
    requires_background_if: str | None = Field(
        default=None, description="Boolean expression of the inputs, e.g. 'N > 50'."
    )
    allowed_environments: list[Environment] | None = Field(
        default=None, description="Environments it may run in; unset means all."
    )

    @field_validator("requires_background_if")
    @classmethod
    def _boolean_condition(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            expr = parse_expression(value)
            expr.check_constants()
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        if not expr.is_boolean():
            raise ValueError(f"must be a condition such as 'N > 50', got {value!r}")
        return str(expr)
