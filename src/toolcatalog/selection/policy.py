"""Policy: the hard filters a candidate must pass and the flags it carries, read from each
pattern's own policy (the seed checked one hard-coded flag) and the request's constraints."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcatalog.model.environment import EnvironmentRules, Outcome
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.profile import Effect, Environment
from toolcatalog.model.tool import Platform, Status, Tool
from toolcatalog.selection.features import PatternEstimate
from toolcatalog.selection.inputs import ENTITY_MIN_CONFIDENCE
from toolcatalog.selection.models import SelectionRequest

_OS = frozenset({Platform.linux, Platform.windows, Platform.macos})
# Tools that drive an API (a cluster, a cloud, a container engine) run from any workstation, so
# they suit a request for any OS; a request *about* a cluster or a cloud accepts them, portable
# tools, and Linux tools (what nodes, containers and cloud VMs run). `custom` is a platform the
# catalog cannot reason about: it is never excluded, and the reason says it was not checked.
_REMOTE = frozenset({Platform.container, Platform.kubernetes, Platform.cloud})
_ON_REMOTE = {
    Platform.kubernetes: frozenset({Platform.kubernetes, Platform.container, Platform.linux}),
    Platform.container: frozenset({Platform.container, Platform.kubernetes, Platform.linux}),
    Platform.cloud: frozenset({Platform.cloud, Platform.kubernetes, Platform.linux}),
}


def platform_matches(tool: Platform, wanted: Platform | None) -> bool:
    if wanted is None or tool in (wanted, Platform.cross_platform, Platform.custom):
        return True
    if wanted in _OS:
        return tool in _REMOTE
    if wanted == Platform.cross_platform:
        return False  # only portable tools are asked for
    if wanted == Platform.custom:
        return False
    return tool in _ON_REMOTE[wanted]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """The request's constraints, with Stage A's platform, environment and approval folded in."""

    platform: Platform | None
    environment: str | None  # a name: production, staging, dev, or one environments.yaml defines
    max_cost: float | None
    max_time_ms: float | None
    require_production_safe: bool | None
    include: frozenset[str]
    exclude: frozenset[str]
    approval_requested: bool

    @classmethod
    def of(cls, request: SelectionRequest) -> PolicyContext:
        c, stage_a = request.constraints, request.classification
        environment: str | None = c.environment
        if environment is None and stage_a is not None:
            environment = stage_a.environment or _environment_entity(request)
        approval = stage_a is not None and (
            stage_a.requires_approval or stage_a.risk_level in ("high", "critical")
        )
        return cls(
            platform=c.platform or (stage_a.platform if stage_a else None),
            environment=environment,
            max_cost=c.max_cost,
            max_time_ms=c.max_time_ms,
            require_production_safe=c.require_production_safe,
            include=frozenset(c.include_tools),
            exclude=frozenset(c.exclude_tools),
            approval_requested=approval,
        )


def _environment_entity(request: SelectionRequest) -> Environment | None:
    assert request.classification is not None
    for entity in request.classification.entities:
        if (
            entity.type == "environment"
            and entity.confidence >= ENTITY_MIN_CONFIDENCE
            and entity.value.lower() in Environment.__members__
        ):
            return Environment(entity.value.lower())
    return None


def tool_exclusions(
    tool: Tool, ctx: PolicyContext, env: tuple[EnvironmentRules, str] | None = None
) -> list[str]:
    """Why the whole tool is out (empty when it is in); `env` is the environment's rules and
    where they come from."""
    reasons: list[str] = []
    if not tool.enabled:
        reasons.append("tool is disabled (enabled: false)")
    if tool.status == Status.disabled:
        reasons.append("tool status is disabled")
    if not platform_matches(tool.platform, ctx.platform):
        assert ctx.platform is not None
        reasons.append(f"platform {tool.platform.value} does not serve {ctx.platform.value}")
    if ctx.include and tool.name not in ctx.include:
        reasons.append("not among constraints.include_tools")
    if tool.name in ctx.exclude:
        reasons.append("listed in constraints.exclude_tools")
    if env is not None:
        rules, source = env
        if tool.name in rules.exclude_tools:
            reasons.append(f"refused by {source}.exclude_tools")
        if tool.category in rules.exclude_categories:
            reasons.append(f"category {tool.category} refused by {source}.exclude_categories")
    return reasons


_RANK = {Outcome.allowed: 0, Outcome.needs_approval: 1, Outcome.refused: 2}


@dataclass(slots=True)
class PatternVerdict:
    """`exclusions` refuse the pattern (each names its rule); otherwise `outcome` is allowed
    or needs_approval, `rule` the rule that decided it and `approval` what approval it asks."""

    exclusions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: Outcome = Outcome.allowed
    rule: str = "no rule asks for approval"
    approval: str | None = None

    @property
    def requires_approval(self) -> bool:
        return self.outcome is Outcome.needs_approval

    def ask(self, rule: str, approval: str = "a human approves this run") -> None:
        """Needs approval by `rule`; the first rule that asked is the one reported."""
        self.notes.append(f"needs approval: {rule}")
        if _RANK[self.outcome] < _RANK[Outcome.needs_approval]:
            self.outcome, self.rule, self.approval = Outcome.needs_approval, rule, approval
        elif self.approval is not None and "reason" in approval:
            self.approval = approval


def judge_pattern(
    pattern: Pattern,
    estimate: PatternEstimate,
    ctx: PolicyContext,
    env: tuple[EnvironmentRules, str] | None = None,
) -> PatternVerdict:
    """Apply every field of the pattern's policy, every constraint of the request, and the
    rules of the request's environment (`env`: the rules and where they come from)."""
    policy, verdict = pattern.policy, PatternVerdict()
    out = verdict.exclusions
    cost, time_ms = estimate.cost, estimate.time_ms
    if ctx.max_cost is not None and cost is not None and cost > ctx.max_cost:
        out.append(f"cost {cost:g} exceeds constraints.max_cost {ctx.max_cost:g}")
    if ctx.max_time_ms is not None and time_ms is not None and time_ms > ctx.max_time_ms:
        out.append(f"time {time_ms:g} ms exceeds constraints.max_time_ms {ctx.max_time_ms:g}")
    if policy.max_cost is not None and cost is not None and cost > policy.max_cost:
        out.append(f"cost {cost:g} exceeds the pattern's policy.max_cost {policy.max_cost:g}")
    limit = policy.max_execution_time_ms
    if limit is not None and time_ms is not None and time_ms > limit:
        out.append(f"time {time_ms:g} ms exceeds the pattern's max_execution_time_ms {limit}")
    environment = ctx.environment
    allowed_envs = policy.allowed_environments
    if environment is not None and allowed_envs is not None and environment not in allowed_envs:
        allowed = ", ".join(e.value for e in allowed_envs)
        out.append(f"environment {environment} not in allowed_environments ({allowed})")
    if env is not None:
        _environment_rules(pattern, estimate, env, verdict)
    if not policy.production_safe:
        if ctx.require_production_safe is True:
            out.append("not production_safe (constraints.require_production_safe)")
        elif environment == Environment.production:
            verdict.ask("policy.production_safe is false and the environment is production")
    if policy.requires_approval:
        verdict.ask("the pattern's policy.requires_approval")
    if ctx.approval_requested:
        verdict.ask("Stage A asks for approval (requires_approval or high risk)")
    return verdict


def _environment_rules(
    pattern: Pattern,
    estimate: PatternEstimate,
    env: tuple[EnvironmentRules, str],
    verdict: PatternVerdict,
) -> None:
    rules, source = env
    effect = pattern.effect
    cost, time_ms = estimate.cost, estimate.time_ms
    if rules.max_cost is not None and cost is not None and cost > rules.max_cost:
        verdict.exclusions.append(f"cost {cost:g} exceeds {source}.max_cost {rules.max_cost:g}")
    if rules.max_time_ms is not None and time_ms is not None and time_ms > rules.max_time_ms:
        verdict.exclusions.append(
            f"time {time_ms:g} ms exceeds {source}.max_time_ms {rules.max_time_ms:g}"
        )
    outcome = rules.outcome_for(effect)
    rule = f"{source}.{effect.value}: {outcome.value}"
    if outcome is Outcome.refused:
        verdict.exclusions.append(f"refused by {rule} (a {effect.value} pattern)")
    elif outcome is Outcome.needs_approval:
        unattended = pattern.policy.production_safe and not pattern.policy.requires_approval
        if effect is Effect.change and unattended:
            # Its author declares this change safe to run unattended (a chat message, a
            # ticket): the starter catalog allows that only outside state-changing capabilities.
            verdict.notes.append(f"{rule} waived: policy.production_safe declares it unattended")
        else:
            verdict.ask(rule, rules.approval_for(effect))
