"""Small builders of valid tool documents for tests."""

from __future__ import annotations

from typing import Any

from toolcatalog.model.tool import Tool


def tool_doc(name: str = "sample_tool", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "description": f"{name} does a useful thing for tests.",
        "platform": "linux",
        "category": "system",
        "tags": ["test"],
        "capabilities": [
            {
                "name": "process_list",
                "description": "List processes.",
                "patterns": [
                    {
                        "name": "snapshot",
                        "description": "One snapshot of the process table.",
                        "profile": {"time_estimate_ms": 50, "accuracy": 0.9},
                        "policy": {"production_safe": True},
                    }
                ],
            }
        ],
        "examples": [f"what is {name} doing"],
    }
    doc.update(overrides)
    return doc


def make_tool(name: str = "sample_tool", **overrides: Any) -> Tool:
    return Tool.model_validate(tool_doc(name, **overrides))
