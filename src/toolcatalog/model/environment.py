"""Environment policy as data: per environment, what each effect may do (allowed, needs
approval, refused), limits on cost and time, and tools or categories kept out.

Defined in the catalog folder (`environments.yaml`, top-level key `environments:`); the
defaults below apply to an environment the file does not define. Like Kubernetes admission,
a rule allows, refuses with a reason, or asks for review; it never rewrites the request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.profile import Effect

EnvironmentName = Annotated[str, Field(pattern=SNAKE_RE)]


class Outcome(StrEnum):
    allowed = "allowed"
    needs_approval = "needs_approval"
    refused = "refused"


class EnvironmentRules(BaseModel):
    """The rules of one environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: Annotated[str, Field(max_length=1000)] = ""
    read: Outcome = Outcome.allowed
    change: Outcome = Outcome.needs_approval
    destructive: Outcome = Outcome.needs_approval
    reason_required_for: list[Effect] = Field(
        default_factory=lambda: [Effect.destructive],
        description="Effects whose approval must state a reason (who asked and why).",
    )
    max_cost: float | None = Field(default=None, ge=0, description="Refuse above this cost.")
    max_time_ms: float | None = Field(default=None, ge=0, description="Refuse above this time.")
    exclude_tools: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)
    exclude_categories: list[Annotated[str, Field(pattern=SNAKE_RE)]] = Field(default_factory=list)

    def outcome_for(self, effect: Effect) -> Outcome:
        outcome: Outcome = getattr(self, effect.value)
        return outcome

    def approval_for(self, effect: Effect) -> str:
        if effect in self.reason_required_for:
            return "a human approves this run and states the reason"
        return "a human approves this run"


DEFAULT_ENVIRONMENTS: dict[str, EnvironmentRules] = {
    "production": EnvironmentRules(
        description="Live systems: reads run, changes wait for a human, destructive ones also "
        "for a stated reason."
    ),
    "staging": EnvironmentRules(
        description="Pre-production: reads and changes run, destructive ones need approval.",
        change=Outcome.allowed,
    ),
    "dev": EnvironmentRules(
        description="Development: everything runs.",
        change=Outcome.allowed,
        destructive=Outcome.allowed,
        reason_required_for=[],
    ),
}


class EnvironmentPolicies(BaseModel):
    """Every environment's rules; those the file leaves out keep the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environments: dict[EnvironmentName, EnvironmentRules] = Field(default_factory=dict)

    def rules(self, name: str) -> tuple[EnvironmentRules, str]:
        """The rules for `name` and where they come from (for the reasons)."""
        if name in self.environments:
            return self.environments[name], f"environments.{name}"
        if name in DEFAULT_ENVIRONMENTS:
            return DEFAULT_ENVIRONMENTS[name], f"default environments.{name}"
        # An environment nobody described: the strictest known rules, said so.
        return DEFAULT_ENVIRONMENTS["production"], f"environments.{name} (undefined: production)"


DEFAULT_POLICIES = EnvironmentPolicies()
