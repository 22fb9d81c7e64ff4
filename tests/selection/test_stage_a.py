"""Every field of Stage A's classification has its documented effect: capabilities retrieve
tools (weighted by confidence), low confidence makes abstention likelier, entities steer
retrieval and fill inputs, risk and approval only tighten, unused fields are warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, write_catalog

NGINX = "check the nginx service on the server"

PINGER = """
name: pinger
description: Checks that a host answers on a TCP port, and how fast.
platform: linux
category: network
examples: [is web01 reachable on port 443]
capabilities:
  - name: port_check
    description: Whether a TCP port answers.
    patterns:
      - name: connect
        description: Open a TCP connection to the host's port.
        inputs:
          type: object
          properties:
            host: {type: string}
            port: {type: integer, minimum: 1, maximum: 65535, default: 80}
            path: {type: string, default: /}
        profile: {time_estimate_ms: 100}
        policy: {production_safe: true}
"""


@pytest.fixture
def stage_b(tmp_path: Path) -> Selector:
    folder = write_catalog(tmp_path / "catalog", {**CATALOG, "network/pinger.yaml": PINGER})
    return Selector(
        FolderSource(folder, check_interval_s=0), Settings(llm_url=None, semantic=False)
    )


def _select(selector: Selector, text: str, **classification: Any) -> SelectionResult:
    return selector.select(
        SelectionRequest.model_validate({"request": text, "classification": classification})
    )


def _decided(result: SelectionResult) -> tuple[str, str] | None:
    d = result.decision
    return None if d is None else (d.tool, d.pattern)


def test_capabilities_retrieve_tools_the_text_does_not_point_at(stage_b: Selector) -> None:
    assert _decided(_select(stage_b, NGINX)) == ("systemctl", "status")
    sure = _select(stage_b, NGINX, intent={"confidence": 0.9, "capabilities": ["promql"]})
    assert _decided(sure) == ("prometheus", "instant_query")  # promql is an alias
    unsure = _select(stage_b, NGINX, intent={"confidence": 0.5, "capabilities": ["promql"]})
    assert _decided(unsure) == ("systemctl", "status")  # at middling confidence the text leads


def test_low_confidence_makes_abstention_likelier(stage_b: Selector) -> None:
    vague = "is it up"
    sure = _select(stage_b, vague, intent={"confidence": 0.9, "capabilities": ["service_check"]})
    assert _decided(sure) == ("systemctl", "status")
    unsure = _select(stage_b, vague, intent={"confidence": 0.2, "capabilities": ["service_check"]})
    assert unsure.decision is None


def test_service_and_command_entities_steer_retrieval_unless_unsure(stage_b: Selector) -> None:
    assert _select(stage_b, "is it up").decision is None
    named = _select(stage_b, "is it up", entities=[{"type": "service", "value": "nginx"}])
    assert _decided(named) == ("systemctl", "status")
    doubtful = [{"type": "service", "value": "nginx", "confidence": 0.3}]
    assert _select(stage_b, "is it up", entities=doubtful).decision is None


def test_hostname_and_port_entities_fill_the_decided_patterns_inputs(stage_b: Selector) -> None:
    result = _select(
        stage_b,
        "is web01 reachable on port 8443",
        entities=[
            {"type": "hostname", "value": "web01"},
            {"type": "port", "value": "8443"},
            {"type": "file_path", "value": "/healthz", "confidence": 0.2},
        ],
    )
    assert result.decision is not None
    assert result.decision.tool == "pinger"
    assert result.decision.inputs == {"host": "web01", "port": 8443, "path": "/"}
    given = stage_b.select(
        SelectionRequest.model_validate(
            {
                "request": "is web01 reachable on port 8443",
                "classification": {"entities": [{"type": "port", "value": "8443"}]},
                "inputs": {"port": 443},
            }
        )
    )
    assert given.decision is not None
    assert given.decision.inputs["port"] == 443  # the request's own inputs win


def test_risk_and_approval_from_stage_a_only_tighten(stage_b: Selector) -> None:
    relaxed = _select(stage_b, "restart nginx", risk_level="low", requires_approval=False)
    assert relaxed.candidates[0].pattern == "restart"
    assert relaxed.candidates[0].policy.requires_approval  # the pattern's own policy stands
    status = _select(stage_b, "is the nginx service running", risk_level="low")
    assert not status.candidates[0].policy.requires_approval
    risky = _select(stage_b, "is the nginx service running", risk_level="critical")
    assert risky.candidates[0].policy.requires_approval


def test_fields_the_selector_does_not_read_are_warnings(stage_b: Selector) -> None:
    result = _select(
        stage_b,
        NGINX,
        intent={"category": "monitoring", "action": "check"},
        entities=[{"type": "service", "value": "nginx", "source": "ner"}],
        reasoning="the user wants a status",
    )
    assert result.warnings == [
        "classification.reasoning: not read by the selector, so it has no effect",
        "classification.intent.category: not read by the selector, so it has no effect",
        "classification.entities[0].source: not read by the selector, so it has no effect",
    ]


def test_an_environment_entity_sets_the_policy_environment_when_sure(stage_b: Selector) -> None:
    production = [{"type": "environment", "value": "production"}]
    sure = _select(stage_b, "restart nginx", entities=production)
    assert sure.decision is not None
    assert "environments.production.change" in (sure.decision.policy_rule or "")
    doubtful = [{"type": "environment", "value": "production", "confidence": 0.2}]
    unsure = _select(stage_b, "restart nginx", entities=doubtful)
    assert unsure.decision is not None
    assert "environments.production" not in (unsure.decision.policy_rule or "")
