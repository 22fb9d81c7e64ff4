"""The selector's request and result: the shapes `/api/v1/select`, `toolcatalog select` and the
Python API share. A Stage A classification arrives in the seed's DecisionV1 shape."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolcatalog.model.environment import EnvironmentName, Outcome
from toolcatalog.model.execution import Execution as ToolExecution
from toolcatalog.model.profile import Effect, Environment
from toolcatalog.model.tool import Platform

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Mode(StrEnum):
    fast = "fast"
    balanced = "balanced"
    accurate = "accurate"
    thorough = "thorough"
    cheap = "cheap"
    simple = "simple"


class Intent(BaseModel):
    """Stage A's reading of the request. Fields the selector does not use (DecisionV1's
    `category`, anything else) are accepted and listed in the result's `warnings`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    action: str = Field(
        default="",
        description="The verb asked for (`restart_service`, `check`): read into the intent "
        "when the request's words name no action.",
    )
    confidence: Unit = Field(
        default=0.5,
        description="Weights the capabilities' lift; below 0.4 the pool is widened and the "
        "capabilities no longer count as evidence the request is about the catalog.",
    )
    capabilities: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Stage A capability names (aliases resolve to ours): tools offering them "
        "are retrieved (lifted by 1.25 x confidence of the best text score) and their "
        "patterns fit the request fully.",
    )


class Entity(BaseModel):
    """What Stage A found in the request. service, command, application and database values
    steer retrieval (added to the text; a value naming a tool lifts it); environment sets the
    policy environment; hostname, file_path and port fill the decided pattern's inputs (host,
    path, port, ...). Entities under confidence 0.5 are ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal[
        "hostname",
        "service",
        "command",
        "file_path",
        "port",
        "environment",
        "application",
        "database",
    ]
    value: Annotated[str, Field(min_length=1, max_length=500)]
    confidence: Unit = 1.0


class Classification(BaseModel):
    """Stage A's DecisionV1: intent, entities, risk and where the request runs. It can only
    tighten policy: `requires_approval` or a `risk_level` of high or critical flag every
    candidate for approval; low or medium loosen nothing."""

    model_config = ConfigDict(extra="allow", frozen=True)

    intent: Intent | None = None
    entities: list[Entity] = Field(default_factory=list, max_length=100)
    risk_level: Literal["low", "medium", "high", "critical"] | None = None
    requires_approval: bool = False
    platform: Platform | None = Field(
        default=None, description="Used when constraints.platform is not given."
    )
    environment: Environment | None = Field(
        default=None, description="Used when constraints.environment is not given."
    )

    def unused_fields(self, limit: int = 20) -> list[str]:
        """Paths of the fields given that the selector does not read (at most `limit`, then
        how many more)."""
        out = [f"classification.{k}" for k in self.model_extra or {}]
        if self.intent is not None:
            out += [f"classification.intent.{k}" for k in self.intent.model_extra or {}]
        for i, entity in enumerate(self.entities):
            out += [f"classification.entities[{i}].{k}" for k in entity.model_extra or {}]
        if len(out) > limit:
            out = [*out[:limit], f"classification: {len(out) - limit} more unread field(s)"]
        return out


class Weights(BaseModel):
    """Relative importance of each dimension; any non-negative numbers, normalised to sum 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=0.2, ge=0)
    accuracy: float = Field(default=0.2, ge=0)
    cost: float = Field(default=0.2, ge=0)
    complexity: float = Field(default=0.2, ge=0)
    completeness: float = Field(default=0.2, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        if self.speed + self.accuracy + self.cost + self.complexity + self.completeness <= 0:
            raise ValueError(
                "all weights are 0, so nothing could be preferred; give at least one a "
                "positive value (e.g. speed: 1), or leave weights out"
            )
        return self


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode | None = None
    weights: Weights | None = Field(default=None, description="Explicit weights win over mode.")


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform | None = None
    environment: EnvironmentName | None = Field(
        default=None,
        description="production, staging, dev or an environment defined in the catalog's "
        "environments.yaml; its rules decide which effects run, need approval or are refused.",
    )
    max_cost: float | None = Field(default=None, ge=0)
    max_time_ms: float | None = Field(default=None, ge=0)
    require_production_safe: bool | None = Field(
        default=None,
        description="True: only production-safe patterns anywhere. False: allow unsafe ones "
        "in production (they are flagged for approval). Unset: required in production only.",
    )
    include_tools: list[str] = Field(
        default_factory=list, max_length=1000, description="Only these tools."
    )
    exclude_tools: list[str] = Field(
        default_factory=list, max_length=1000, description="Never these tools."
    )


class SelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: Annotated[str, Field(min_length=1, max_length=4000)]
    classification: Classification | None = None
    preferences: Preferences | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    inputs: dict[str, float | int | bool | str] = Field(
        default_factory=dict,
        max_length=200,
        description="Values of the patterns' inputs, e.g. {'files': 2e5}: checked against each "
        "pattern's input schema (a refused value leaves the pattern's default) and used by its "
        "estimate expressions. Names no pattern declares, and values the decided pattern "
        "refuses, are listed in the result's `warnings`.",
    )
    strict: bool = Field(
        default=False,
        description="Refuse the request (422) instead of answering with `warnings`.",
    )
    top_k: int = Field(default=5, ge=1, le=50)
    patterns: Literal["best", "all"] = Field(
        default="best",
        description="`best`: one candidate per tool, its best pattern. `all`: every allowed "
        "pattern of the top_k tools, best first within each tool.",
    )
    explain: bool = Field(default=False, description="Also list excluded candidates and why.")
    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The caller's session: a running experiment assigns its variant by it "
        "(sticky); without it, by the API key's name. Recorded with the selection.",
    )


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool: str
    capability: str
    pattern: str
    inputs: dict[str, float | int | bool | str] = Field(
        default_factory=dict,
        max_length=200,
        description="The values the decided pattern runs with: its declared defaults, then "
        "Stage A's hostname, file_path and port entities for inputs it declares (host, path, "
        "port, ...), then the request's `inputs` its schema accepts.",
    )
    run: ToolExecution | None = Field(
        default=None,
        description="How to run the decided pattern: its own execution (method, path, command, "
        "body) over the tool's; templates keep their {placeholders}. None when the tool "
        "declares no execution.",
    )
    effect: Effect = Field(description="What running it does: read, change or destructive.")
    policy_outcome: Outcome = Field(
        description="allowed: run it; needs_approval: run it once `approval` is given."
    )
    policy_rule: str = Field(description="The rule that produced the outcome.")
    approval: str | None = Field(default=None, description="What approval the policy asks.")


Role = Literal["action", "helper", "other_change", "answer", "unrequested_change"]


class RequestIntent(BaseModel):
    """What the request asks for, read from its words (Stage A's intent.action as a hint)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["read", "change"]
    action: str | None = Field(
        description="The action it names (restart, delete, ...): of several asked changes, "
        "the strongest (the first destructive one, else the first)."
    )
    also: list[str] = Field(
        default_factory=list,
        description="The other changes a change request asks for, in order: a pattern that "
        "does them too wins over one that does only `action`.",
    )
    source: Literal["request", "stage_a", "default"]
    evidence: str = Field(description="The words that decided.")


class Estimates(BaseModel):
    """The pattern's time and cost for this request, calibrated by telemetry: `source` says
    whether they are the declaration's, the observation's or a blend (see docs/api.md,
    "Calibrated profiles"), `samples` how many runs were observed."""

    model_config = ConfigDict(frozen=True)

    time_ms: float | None = Field(description="None when an expression could not be evaluated.")
    cost: float | None
    source: Literal["declared", "observed", "blended"] = "declared"
    samples: int = Field(default=0, description="Runs observed (telemetry) in the window.")
    declared_time_ms: float | None = Field(
        default=None, description="The declaration's time when another source was used."
    )
    observed_p50_ms: float | None = None
    observed_p95_ms: float | None = None
    success_rate: float | None = Field(default=None, description="Observed share of successes.")


class PolicyFlags(BaseModel):
    model_config = ConfigDict(frozen=True)

    production_safe: bool
    requires_approval: bool


class Features(BaseModel):
    """Each dimension on 0..1, higher is better (time and cost are inverted)."""

    model_config = ConfigDict(frozen=True)

    relevance: float = Field(
        description="Fused relevance relative to the request's most relevant tool: the "
        "ranking's input, not comparable across requests (threshold the candidate's "
        "`relevance` or `score`)."
    )
    speed: float
    cost: float
    complexity: float
    accuracy: float
    completeness: float
    utility: float = Field(description="The preference-weighted sum of the five dimensions.")


Execution = Literal["inline", "background"]
SlaClass = Literal["interactive", "batch", "background"]
RetrievalMethod = Literal["lexical", "hybrid"]


class Candidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool: str
    capability: str
    pattern: str
    score: float = Field(
        description="On the scale of `relevance`, never above it: the relevance lowered as the "
        "preferences lower the ranking score (see docs/architecture.md, Score), so a caller "
        "may threshold it like relevance (0.5: where the selector starts refusing). The "
        "candidates' order is the ranking's (fused lexical and semantic relevance), which "
        "the absolute scale can disagree with."
    )
    relevance: float = Field(
        description="Absolute relevance (0..1), comparable across requests: with embeddings, "
        "calibrated per catalog so that 0.5 is where the selector starts refusing; lexical "
        "only, the share of the most relevant candidate's text score."
    )
    features: Features
    estimates: Estimates
    policy: PolicyFlags
    effect: Effect
    role: Role = Field(
        description="action: performs the change asked for; helper: read-only help before it "
        "(status, dry run), never the decision of a change request; other_change: changes "
        "state but not by the action asked for, never the decision; answer: reads what was "
        "asked; unrequested_change: a change nobody asked for, never the decision."
    )
    policy_outcome: Outcome
    policy_rule: str
    approval: str | None = None
    execution: Execution
    sla: SlaClass
    reasons: list[str]


class Excluded(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool: str
    capability: str | None
    pattern: str | None
    effect: Effect | None = Field(default=None, description="The pattern's effect, if one.")
    reasons: list[str] = Field(description="Each names the rule that refused it.")


class PreferencesUsed(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Mode | None
    weights: Weights
    source: Literal["request", "inferred", "default"]


class TieBreak(BaseModel):
    model_config = ConfigDict(frozen=True)

    used: bool = Field(description="True when the top two tools were within the tie margin.")
    method: Literal["none", "deterministic", "llm"]
    justification: str | None = None
    tied: list[str] = Field(default_factory=list)
    llm_skipped: bool = Field(
        default=False,
        description="True when an LLM is configured but its circuit breaker is open (it failed "
        "or timed out repeatedly): the deterministic order stood without asking it.",
    )


class SelectionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    selection_id: str | None = Field(
        default=None,
        description="This answer's id (a UUID): name it in POST /api/v1/selections/{id}/"
        "feedback and in telemetry events' `selection_id`. Recorded within about a second "
        "when the selector runs over a database.",
    )
    decision: Decision | None
    reason: str | None = Field(default=None, description="Why there is no decision, if none.")
    intent: RequestIntent | None = Field(
        default=None, description="Whether the request asks to look or to change, and what."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What in the request had no effect or was refused: unknown input names, "
        "input values outside the decided pattern's schema, a mode overridden by weights, "
        "unknown tools in exclude_tools. `strict: true` turns these into a 422.",
    )
    execution: Execution | None = None
    sla: SlaClass | None = None
    candidates: list[Candidate]
    excluded: list[Excluded] | None = None
    preferences_used: PreferencesUsed
    tie_break: TieBreak
    catalog_version: int
    elapsed_ms: float
    retrieval: RetrievalMethod = Field(
        default="lexical",
        description="`hybrid` when embeddings were fused in (Settings.semantic, once the "
        "catalog's embeddings are ready), else `lexical`.",
    )
