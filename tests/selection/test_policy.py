"""Every policy field and constraint, one test each, on single-pattern tools built here."""

from __future__ import annotations

from typing import Any

import pytest

from toolcatalog.model.environment import EnvironmentPolicies, Outcome
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Platform, Tool
from toolcatalog.selection.features import estimate_pattern
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.policy import (
    PolicyContext,
    judge_pattern,
    platform_matches,
    tool_exclusions,
)

PRODUCTION = {"environment": "production"}


def _pattern(policy: dict[str, Any], effect: str | None = None, **profile: Any) -> Pattern:
    doc = {"name": "p", "description": "A pattern.", "policy": policy, "profile": profile}
    return Pattern.model_validate(doc | ({"effect": effect} if effect else {}))


def _judge(pattern: Pattern, environment: str, rules: EnvironmentPolicies | None = None) -> Any:
    policies = rules or EnvironmentPolicies()
    ctx = _ctx(constraints={"environment": environment})
    return judge_pattern(pattern, estimate_pattern(pattern, {}), ctx, policies.rules(environment))


def _tool(**fields: Any) -> Tool:
    doc = {
        "name": "sample",
        "description": "A sample tool.",
        "platform": "linux",
        "category": "system",
        "capabilities": [
            {"name": "c", "description": "C.", "patterns": [{"name": "p", "description": "P."}]}
        ],
    }
    return Tool.model_validate(doc | fields)


def _ctx(**request: Any) -> PolicyContext:
    return PolicyContext.of(SelectionRequest.model_validate({"request": "x", **request}))


def _exclusions(pattern: Pattern, **request: Any) -> list[str]:
    return judge_pattern(pattern, estimate_pattern(pattern, {}), _ctx(**request)).exclusions


def test_a_disabled_tool_is_excluded() -> None:
    assert tool_exclusions(_tool(enabled=False), _ctx())
    assert tool_exclusions(_tool(status="disabled"), _ctx())
    assert not tool_exclusions(_tool(status="deprecated"), _ctx())


@pytest.mark.parametrize(
    ("tool", "wanted", "ok"),
    [
        ("linux", "linux", True),
        ("linux", "windows", False),
        ("cross-platform", "windows", True),
        ("kubernetes", "linux", True),
        ("cloud", "macos", True),
        ("container", "windows", True),
        ("linux", "kubernetes", True),
        ("windows", "kubernetes", False),
        ("windows", "container", False),
        ("custom", "linux", True),
        ("linux", "cross-platform", False),
        ("cross-platform", "cross-platform", True),
        ("linux", None, True),
    ],
)
def test_platform_compatibility(tool: str, wanted: str | None, ok: bool) -> None:
    assert platform_matches(Platform(tool), Platform(wanted) if wanted else None) is ok


def test_a_platform_mismatch_excludes_the_tool_with_a_reason() -> None:
    reasons = tool_exclusions(_tool(platform="windows"), _ctx(constraints={"platform": "linux"}))
    assert reasons == ["platform windows does not serve linux"]


def test_include_and_exclude_tools() -> None:
    assert tool_exclusions(_tool(), _ctx(constraints={"include_tools": ["other"]}))
    assert not tool_exclusions(_tool(), _ctx(constraints={"include_tools": ["sample"]}))
    assert tool_exclusions(_tool(), _ctx(constraints={"exclude_tools": ["sample"]}))


def test_constraint_max_cost() -> None:
    pattern = _pattern({"production_safe": True}, cost_estimate=5)
    assert _exclusions(pattern, constraints={"max_cost": 4})
    assert not _exclusions(pattern, constraints={"max_cost": 5})


def test_constraint_max_time_ms() -> None:
    pattern = _pattern({"production_safe": True}, time_estimate_ms=2000)
    assert _exclusions(pattern, constraints={"max_time_ms": 1000})
    assert not _exclusions(pattern, constraints={"max_time_ms": 2000})


def test_policy_max_cost_is_the_patterns_own_limit() -> None:
    assert _exclusions(_pattern({"production_safe": True, "max_cost": 2}, cost_estimate=3))
    assert not _exclusions(_pattern({"production_safe": True, "max_cost": 3}, cost_estimate=3))


def test_policy_max_execution_time_ms() -> None:
    slow = _pattern({"production_safe": True, "max_execution_time_ms": 100}, time_estimate_ms=500)
    assert _exclusions(slow)


def test_allowed_environments() -> None:
    pattern = _pattern({"production_safe": True, "allowed_environments": ["dev", "staging"]})
    assert _exclusions(pattern, constraints={"environment": "production"})
    assert not _exclusions(pattern, constraints={"environment": "staging"})
    assert not _exclusions(pattern)  # no environment given: nothing to check


def test_production_asks_approval_for_an_unsafe_pattern_rather_than_hiding_it() -> None:
    unsafe = _pattern({"production_safe": False})
    verdict = judge_pattern(unsafe, estimate_pattern(unsafe, {}), _ctx(constraints=PRODUCTION))
    assert verdict.exclusions == []
    assert verdict.outcome is Outcome.needs_approval
    assert "production_safe is false" in verdict.rule
    assert not _exclusions(unsafe, constraints={"environment": "staging"})


def test_require_production_safe_applies_in_every_environment() -> None:
    unsafe = _pattern({"production_safe": False})
    assert _exclusions(unsafe, constraints={"require_production_safe": True})
    assert not _exclusions(
        _pattern({"production_safe": True}), constraints={"require_production_safe": True}
    )


def test_requires_approval_is_a_flag_not_a_filter() -> None:
    pattern = _pattern({"production_safe": True, "requires_approval": True})
    verdict = judge_pattern(pattern, estimate_pattern(pattern, {}), _ctx())
    assert not verdict.exclusions
    assert verdict.requires_approval


def test_stage_a_requires_approval_and_high_risk_flag_every_candidate() -> None:
    pattern = _pattern({"production_safe": True})
    for stage_a in ({"requires_approval": True}, {"risk_level": "critical"}):
        ctx = _ctx(classification=stage_a)
        assert judge_pattern(pattern, estimate_pattern(pattern, {}), ctx).requires_approval
    assert not judge_pattern(pattern, estimate_pattern(pattern, {}), _ctx()).requires_approval


def test_stage_a_environment_entity_counts_when_constraints_are_silent() -> None:
    ctx = _ctx(classification={"entities": [{"type": "environment", "value": "Production"}]})
    assert ctx.environment == "production"
    pattern = _pattern({})
    staged = _ctx(classification={"environment": "production"})
    assert judge_pattern(pattern, estimate_pattern(pattern, {}), staged).requires_approval


def test_production_defaults_allow_reads_and_ask_approval_for_changes() -> None:
    read = _judge(_pattern({"production_safe": True}, "read"), "production")
    assert (read.exclusions, read.outcome) == ([], Outcome.allowed)
    change = _judge(_pattern({}, "change"), "production")
    assert change.outcome is Outcome.needs_approval
    assert change.rule == "default environments.production.change: needs_approval"
    assert change.approval == "a human approves this run"


def test_a_destructive_pattern_in_production_needs_approval_with_a_stated_reason() -> None:
    verdict = _judge(_pattern({}, "destructive"), "production")
    assert verdict.outcome is Outcome.needs_approval
    assert verdict.approval == "a human approves this run and states the reason"


def test_dev_allows_every_effect_the_pattern_itself_does_not_hold_back() -> None:
    for effect in ("read", "change", "destructive"):
        verdict = _judge(_pattern({"production_safe": True}, effect), "dev")
        assert verdict.outcome is Outcome.allowed, effect


def test_an_environment_that_refuses_an_effect_excludes_with_its_rule() -> None:
    frozen = EnvironmentPolicies.model_validate(
        {"environments": {"freeze": {"change": "refused", "destructive": "refused"}}}
    )
    verdict = _judge(_pattern({}, "change"), "freeze", frozen)
    assert verdict.exclusions == [
        "refused by environments.freeze.change: refused (a change pattern)"
    ]
    assert _judge(_pattern({"production_safe": True}, "read"), "freeze", frozen).exclusions == []


def test_an_undefined_environment_gets_the_production_rules_and_says_so() -> None:
    verdict = _judge(_pattern({}, "change"), "qa_eu")
    assert verdict.outcome is Outcome.needs_approval
    assert "environments.qa_eu (undefined: production)" in verdict.rule


def test_environment_limits_and_exclusions_refuse_with_the_rule() -> None:
    rules = EnvironmentPolicies.model_validate(
        {"environments": {"production": {"max_cost": 2, "exclude_categories": ["system"]}}}
    )
    costly = _judge(
        _pattern({"production_safe": True}, "read", cost_estimate=5), "production", rules
    )
    assert costly.exclusions == ["cost 5 exceeds environments.production.max_cost 2"]
    env = rules.rules("production")
    assert tool_exclusions(_tool(), _ctx(constraints=PRODUCTION), env) == [
        "category system refused by environments.production.exclude_categories"
    ]


def test_a_change_its_author_declares_unattended_runs_without_approval() -> None:
    message = _pattern({"production_safe": True}, "change")
    assert _judge(message, "production").outcome is Outcome.allowed
    destructive = _pattern({"production_safe": True}, "destructive")
    assert _judge(destructive, "production").outcome is Outcome.needs_approval
