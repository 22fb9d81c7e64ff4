"""The tool definition: Tool > Capability > Pattern (> Profile, Policy).

The same model is the YAML file format, the HTTP request body and `schema/tool.schema.json`.
Validation happens here once; everything downstream trusts a `Tool`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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

from toolcatalog.model.expressions import ExpressionError, evaluate_number, parse_expression
from toolcatalog.model.limits import check_json
from toolcatalog.model.profile import Effect, Policy, Profile, estimate_at_defaults

TOOL_NAME_RE = r"^[a-z][a-z0-9_]{1,63}$"
SNAKE_RE = r"^[a-z][a-z0-9_]{0,63}$"
SEMVER_RE = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)

# Names that a route with a fixed segment under /api/v1/tools takes before /{name}: GET
# /tools/health and /tools/metrics answer health and metrics, and /tools/platform/{p},
# /tools/category/{c} take /tools/<name>/versions (also in the OpsConductor contract). Every
# other name works, `search`, `import` or `select` included (a public catalog has a `search`
# tool); tests/api/test_tool_names.py checks each fixed segment of the route table.
RESERVED_NAMES = frozenset({"health", "metrics", "platform", "category"})

# The validation context for a definition this catalog stored (`Tool.model_validate(d,
# context=STORED)`): it was validated in full when written, and canonical_definition wrote it,
# so the checks that only guard writes and cost the most to repeat are skipped (evaluating
# estimate expressions at the input defaults, walking free-form JSON for its limits): a
# whole read of 100,000 tools spent half its validation there. Types, required fields and
# value constraints are still checked, so a row that stopped validating (a rule tightened,
# an edit in SQL) is still found.
STORED: dict[str, bool] = {"stored": True}


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and info.context.get("stored") is True


def _checked_json(value: Any, info: ValidationInfo) -> Any:
    return value if _stored(info) else check_json(value)


ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=10_000)]


class Platform(StrEnum):
    linux = "linux"
    windows = "windows"
    macos = "macos"
    cross_platform = "cross-platform"
    container = "container"
    kubernetes = "kubernetes"
    cloud = "cloud"
    custom = "custom"


class Status(StrEnum):
    active = "active"
    experimental = "experimental"
    deprecated = "deprecated"
    disabled = "disabled"


class Execution(BaseModel):
    """How to run the tool. Credentials are named, never given."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["command", "http", "script", "mcp"] = "command"
    command: str | None = Field(
        default=None,
        max_length=4000,
        description="Command template, e.g. 'df -h {path}'.",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    url: str | None = Field(default=None, max_length=2000, description="URL template for http.")
    body: str | None = Field(
        default=None, max_length=10_000, description="http: request body template."
    )
    credentials: list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,127}$")]] = Field(
        default_factory=list, description="Names of the credentials it needs (never values)."
    )

    @model_validator(mode="after")
    def _kind_needs_its_fields(self) -> Execution:
        if self.kind in ("command", "script") and not self.command:
            raise ValueError(f"execution.kind {self.kind!r} needs a 'command' template")
        if self.kind == "http" and not (self.method and self.url):
            raise ValueError("execution.kind 'http' needs 'method' and 'url'")
        return self


class PatternExecution(BaseModel):
    """How one pattern runs, over its tool's `execution`: each field given replaces the tool's
    (kind and credentials stay the tool's). Listing deployments is a GET to /deployments;
    rolling one back a POST to /deployments/{id}/rollback with a body."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    command: str | None = Field(
        default=None, max_length=4000, description="Command template (command, script)."
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    path: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^/",
        description="http: path (and query) template replacing the tool's url path, on the same "
        "scheme and host, e.g. '/api/v1/deployments/{id}/rollback'.",
    )
    body: str | None = Field(
        default=None,
        max_length=10_000,
        description='http: request body template, e.g. \'{"reason": "{reason}"}\'.',
    )


JsonSchema = dict[str, Any]


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

    _free_json = field_validator("inputs", "outputs", mode="before")(_checked_json)

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
        if _stored(info):
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


class Capability(BaseModel):
    """Something the tool can do, named from the shared capability vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Annotated[str, Field(pattern=SNAKE_RE)]
    description: LongText
    patterns: list[Pattern] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _unique_pattern_names(cls, value: list[Pattern]) -> list[Pattern]:
        _refuse_duplicates([p.name for p in value], "pattern")
        return value


def _refuse_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name {name!r}")
        seen.add(name)


class Tool(BaseModel):
    """A tool the agent may use: the YAML file, the request body and the JSON Schema."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "name": "df",
                    "version": "1.0.0",
                    "description": "Report file system space usage per mount.",
                    "platform": "linux",
                    "category": "storage",
                    "capabilities": [
                        {
                            "name": "disk_usage",
                            "description": "Free and used space per mounted file system.",
                            "patterns": [
                                {
                                    "name": "summary",
                                    "description": "df -h over all mounts.",
                                    "profile": {"time_estimate_ms": 50},
                                    "policy": {"production_safe": True},
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    )

    name: Annotated[str, Field(pattern=TOOL_NAME_RE, description="Unique, lower snake_case.")]
    version: Annotated[str, Field(pattern=SEMVER_RE, description="Semantic version.")] = "1.0.0"
    display_name: Annotated[str, Field(max_length=200)] | None = None
    description: LongText
    platform: Platform
    category: Annotated[str, Field(pattern=SNAKE_RE)]
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.+-]{0,63}$")]] = Field(
        default_factory=list
    )
    status: Status = Status.active
    enabled: bool = True
    owner: Annotated[str, Field(max_length=200)] | None = None
    docs_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    execution: Execution | None = None
    capabilities: list[Capability] = Field(min_length=1)
    examples: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, description="Natural-language requests this tool serves."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form data a pipeline needs beyond this schema (finite numbers, "
        "64-bit integers, at most 32 levels deep).",
    )

    _free_json = field_validator("metadata", mode="before")(_checked_json)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(
                f"{value!r} is reserved (it is an API path segment); choose another name, "
                f"such as {value + '_tool'!r}"
            )
        return value

    @field_validator("capabilities")
    @classmethod
    def _unique_capability_names(cls, value: list[Capability]) -> list[Capability]:
        _refuse_duplicates([c.name for c in value], "capability")
        return value

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _pattern_executions_refine_the_tools(self) -> Tool:
        for i, cap in enumerate(self.capabilities):
            for j, pattern in enumerate(cap.patterns):
                own = pattern.execution
                if own is None:
                    continue
                where = f"capabilities[{i}].patterns[{j}].execution"
                if self.execution is None:
                    raise ValueError(
                        f"{where}: a pattern's execution refines the tool's, and the tool has "
                        "none; set the tool's execution (kind, and url for http) first"
                    )
                http = self.execution.kind == "http"
                wrong = (["command"] if http and own.command else []) or [
                    f for f in ("method", "path", "body") if not http and getattr(own, f)
                ]
                if wrong:
                    raise ValueError(
                        f"{where}: {', '.join(wrong)} does not apply to the tool's execution "
                        f"kind {self.execution.kind!r}"
                    )
        return self

    def document(self, *, exclude_defaults: bool = False) -> dict[str, Any]:
        """The definition as JSON-ready data, without the effects it did not declare: read
        back, those are inferred again and stay undeclared (the selector's intent rule holds
        only between declared effects), so the tool loads exactly as it was defined."""
        data = self.model_dump(mode="json", exclude_defaults=exclude_defaults)
        for capability, doc in zip(self.capabilities, data["capabilities"], strict=True):
            for pattern, pattern_doc in zip(capability.patterns, doc["patterns"], strict=True):
                if not pattern.effect_declared:
                    pattern_doc.pop("effect", None)
        return data

    def execution_for(self, pattern: Pattern) -> Execution | None:
        """How `pattern` runs: its own execution's fields over the tool's (a path replaces the
        path and query of the tool's url, keeping its scheme and host); None when the tool
        declares no execution."""
        base = self.execution
        own = pattern.execution
        if base is None or own is None:
            return base
        url = base.url
        if own.path is not None and url is not None:
            parts = urlsplit(url)
            url = f"{parts.scheme}://{parts.netloc}{own.path}"
        return base.model_copy(
            update={
                "command": own.command or base.command,
                "method": own.method or base.method,
                "url": url,
                "body": own.body if own.body is not None else base.body,
            }
        )

    def pattern_count(self) -> int:
        return sum(len(c.patterns) for c in self.capabilities)
