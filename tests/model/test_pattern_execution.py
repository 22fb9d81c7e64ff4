"""A pattern's own execution over its tool's: listing is a GET, rollback a POST to another
path with a body; fields a pattern does not give are the tool's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from toolcatalog.config import Settings
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"


def _deployer(pattern_execution: dict[str, Any], tool_execution: Any = "http") -> dict[str, Any]:
    execution = {
        "kind": "http",
        "method": "GET",
        "url": "https://{host}/api/v1/deployments?limit=20",
        "credentials": ["DEPLOY_TOKEN"],
    }
    return {
        "name": "deployer",
        "description": "Lists and rolls back deployments.",
        "platform": "cloud",
        "category": "deployment",
        "execution": execution if tool_execution == "http" else tool_execution,
        "capabilities": [
            {
                "name": "deployment",
                "description": "Deployments.",
                "patterns": [
                    {"name": "list_deployments", "description": "List them."},
                    {
                        "name": "trigger_rollback",
                        "description": "Roll one back.",
                        "execution": pattern_execution,
                    },
                ],
            }
        ],
    }


def test_a_patterns_execution_replaces_the_tools_fields_it_gives() -> None:
    tool = Tool.model_validate(
        _deployer({"method": "POST", "path": "/api/v1/deployments/{id}/rollback", "body": "{}"})
    )
    listing, rollback = tool.capabilities[0].patterns
    assert tool.execution_for(listing) == tool.execution
    run = tool.execution_for(rollback)
    assert run is not None
    assert (run.kind, run.method, run.body) == ("http", "POST", "{}")
    assert run.url == "https://{host}/api/v1/deployments/{id}/rollback"
    assert run.credentials == ["DEPLOY_TOKEN"]


@pytest.mark.parametrize(
    ("pattern_execution", "tool_execution", "message"),
    [
        ({"method": "POST"}, None, "the tool has none"),
        ({"command": "rollback {id}"}, "http", "command does not apply"),
        (
            {"path": "/x"},
            {"kind": "command", "command": "deploy list"},
            "path does not apply to the tool's execution kind 'command'",
        ),
        ({"path": "no-slash"}, "http", "should match pattern"),
    ],
)
def test_a_patterns_execution_that_cannot_refine_the_tools_is_refused(
    pattern_execution: dict[str, Any], tool_execution: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Tool.model_validate(_deployer(pattern_execution, tool_execution))


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in checkout")
def test_the_decision_says_how_to_run_the_decided_pattern() -> None:
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None, semantic=False))
    result = selector.select(
        SelectionRequest(
            request="retry the failed gitlab ci pipeline",
            constraints={"include_tools": ["gitlab_api"]},
        )
    )
    assert result.decision is not None
    assert result.decision.pattern == "retry_or_trigger_pipeline"
    run = result.decision.run
    assert run is not None
    assert run.method == "POST"
    assert (
        run.url
        == "https://{gitlab_host}/api/v4/projects/{project_id}/pipelines/{pipeline_id}/retry"
    )
