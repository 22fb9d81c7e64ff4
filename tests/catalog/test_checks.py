"""The advice every door gives on a valid definition: command placeholders that no input fills,
background conditions on inputs that are not numbers."""

from __future__ import annotations

from typing import Any

from builders import make_tool, tool_doc
from toolcatalog.catalog.checks import condition_warnings, placeholder_warnings


def _with(pattern: dict[str, Any], execution: dict[str, Any]) -> Any:
    doc = tool_doc("alpha_tool", execution=execution)
    doc["capabilities"][0]["patterns"][0].update(pattern)
    return make_tool("alpha_tool", **{k: v for k, v in doc.items() if k != "name"})


def test_a_placeholder_no_input_declares_is_a_warning_naming_the_patterns() -> None:
    tool = _with(
        {"inputs": {"type": "object", "properties": {"path": {"type": "string"}}}},
        {"kind": "command", "command": "du -h {path} | head -n {limit}; echo ${HOME} '{print $1}'"},
    )
    assert placeholder_warnings(tool) == [
        "execution: placeholder {limit} is not an input of pattern(s) snapshot; "
        "declare it under inputs.properties"
    ]


def test_a_background_condition_on_a_string_input_is_a_warning() -> None:
    tool = _with(
        {
            "inputs": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "default": "/"},
                    "n": {"type": "integer"},
                },
            },
            "policy": {"production_safe": True, "requires_background_if": "path == 1 or n > 5"},
        },
        {"kind": "command", "command": "ls {path} {n}"},
    )
    [warning] = condition_warnings(tool)
    assert warning.startswith("capabilities[0].patterns[0].policy.requires_background_if:")
    assert "path (string)" in warning
    assert "n (" not in warning
