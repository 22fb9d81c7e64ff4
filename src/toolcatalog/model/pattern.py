"""A pattern: one way of using a capability, with its inputs schema, effect, profile and policy;
its estimate expressions are checked against its declared inputs."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from toolcatalog.model.execution import PatternExecution
from toolcatalog.model.expressions import ExpressionError, evaluate_number, parse_expression
from toolcatalog.model.fields import (
    SNAKE_RE,
    JsonSchema,
    LongText,
    ShortText,
    checked_json,
    is_stored,
)
from toolcatalog.model.profile import Effect, Policy, Profile, estimate_at_defaults


def _schema_input_names(schema: JsonSchema) -> set[str]:
    props = schema.get("properties")
    return set(props) if isinstance(props, dict) else set()


def inferred_effect(policy: Any) -> Effect:
    """The effect of a pattern that declares none: read when its policy says production-safe
    without approval, else change."""
    if isinstance(policy, Policy):
        policy = policy.model_dump()
    if isinstance(policy, dict) and policy.get("production_safe") is True:
        return Effect.change if policy.get("requires_approval") else Effect.read
    return Effect.change


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Pattern(BaseModel):
    """One way of using a capability, with its profile and policy."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Annotated[str, Field(pattern=SNAKE_RE)]
    description: LongText
    typical_use_cases: list[ShortText] = Field(default_factory=list)
    inputs: JsonSchema = Field(
        default_factory=dict,
        description="JSON Schema (type object) of the inputs; properties carry defaults.",
    )
    outputs: JsonSchema = Field(default_factory=dict, description="JSON Schema of the output.")
    effect: Effect = Field(
        description="read: only looks; change: changes state (restart, scale, set); "
        "destructive: loses data or service (delete, wipe, kill). Undeclared: read when the "
        "policy says production_safe without approval, else change; imports report it.",
    )
    profile: Profile = Field(default_factory=Profile)
    policy: Policy = Field(default_factory=Policy)
    execution: PatternExecution | None = Field(
        default=None,
        description="How this pattern runs when it differs from the tool's execution (method, "
        "path, command, body); fields not given are the tool's.",
    )

    # Whether the definition gave `effect` (False: inferred from the policy). The selector's
    # intent rule (a change request is decided only by a change) holds only between declared
    # effects: a description-only catalog's inferred `read` says nothing about what it does.
    _effect_declared: bool = PrivateAttr(default=True)

    _free_json = field_validator("inputs", "outputs", mode="before")(checked_json)

    @model_validator(mode="wrap")
    @classmethod
    def _infer_undeclared_effect(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        # A definition written before effects existed: its policy already said whether it is
        # read-only (production_safe is documented as "read-only"); anything else may change
        # state, so the conservative reading is `change`. Imports report these patterns
        # (formats.definitions.undeclared_effects).
        declared = not (isinstance(data, dict) and "effect" not in data)
        if not declared:
            data = {**data, "effect": inferred_effect(data.get("policy"))}
        pattern = handler(data)
        if not declared and isinstance(pattern, Pattern):
            pattern._effect_declared = False
        return pattern

    @property
    def effect_declared(self) -> bool:
        """Whether the definition declared its effect (else it was inferred from the policy)."""
        return self._effect_declared

    @field_validator("inputs")
    @classmethod
    def _inputs_is_object_schema(cls, value: JsonSchema) -> JsonSchema:
        if value and value.get("type", "object") != "object":
            raise ValueError("must be a JSON Schema of type 'object' with 'properties'")
        props = value.get("properties", {})
        if not isinstance(props, dict):
            raise ValueError("'properties' must be a mapping of input name to JSON Schema")
        for key, sub in props.items():
            if not _IDENTIFIER.match(key):
                raise ValueError(f"input name {key!r} must be an identifier")
            if not isinstance(sub, dict):
                raise ValueError(f"properties.{key} must be a JSON Schema object")
        return value

    @model_validator(mode="after")
    def _expressions_name_known_inputs(self, info: ValidationInfo) -> Pattern:
        if is_stored(info):
            return self
        known = _schema_input_names(self.inputs)
        defaults = self.input_defaults()
        at_defaults: dict[str, float | None] = {}  # estimates at the input defaults
        for label, text in (
            ("profile.time_estimate_ms", self.profile.time_estimate_ms),
            ("profile.cost_estimate", self.profile.cost_estimate),
            ("policy.requires_background_if", self.policy.requires_background_if),
        ):
            if not isinstance(text, str):
                at_defaults[label] = text  # a number (or no condition)
                continue
            try:
                names = parse_expression(text).names
            except ExpressionError as exc:  # pragma: no cover - already checked by the field
                raise ValueError(f"{label}: {exc}") from None
            unknown = sorted(names - known)
            if unknown:
                listed = ", ".join(sorted(known)) or "none declared"
                raise ValueError(
                    f"{label}: expression {text!r} uses unknown input(s) {', '.join(unknown)}; "
                    f"declare them under inputs.properties (declared: {listed})"
                )
            at_defaults[label] = None  # an input has no default
            if label.startswith("profile.") and names <= defaults.keys():
                at_defaults[label] = estimate_at_defaults(label, text, defaults)
        # Primes estimates_at_defaults (a cached_property: kept out of equality and dumps).
        self.__dict__["estimates_at_defaults"] = (
            at_defaults["profile.time_estimate_ms"],
            at_defaults["profile.cost_estimate"],
        )
        return self

    @cached_property
    def estimates_at_defaults(self) -> tuple[float | None, float | None]:
        """(time_estimate_ms, cost_estimate) at the declared input defaults, None where an
        input has no default (the value depends on the request): what the store's pattern rows
        hold. Kept from the validation that checked them (an import of 100,000 tools
        evaluated each expression twice), else computed once here."""
        defaults = self.input_defaults()
        profile = self.profile
        return (
            _value_at(profile.time_estimate_ms, defaults),
            _value_at(profile.cost_estimate, defaults),
        )

    def input_defaults(self) -> dict[str, float]:
        """Numeric defaults declared in the inputs schema, used when a request gives none."""
        out: dict[str, float] = {}
        for key, sub in self.inputs.get("properties", {}).items():
            default = sub.get("default")
            if isinstance(default, int | float) and not isinstance(default, bool):
                out[key] = float(default)
        return out


def _value_at(value: float | str, defaults: dict[str, float]) -> float | None:
    try:
        return evaluate_number(value, defaults)
    except ExpressionError:
        return None  # an input has no default
