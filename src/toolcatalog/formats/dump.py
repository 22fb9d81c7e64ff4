"""Write tools as YAML that people can read and that imports back into the same catalog."""

from __future__ import annotations

from typing import Any

import yaml

from toolcatalog.model.tool import Tool

# libyaml's dumper when PyYAML was built with it (the wheels are), else the pure-Python one.
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _ReadableDumper(_Dumper):  # type: ignore[misc]
    """Long strings as folded blocks (`>-`) and multi-line ones as literal blocks (`|-`):
    people read descriptions, and quoted one-liners of 400 characters are hard to read."""


def _represent_str(dumper: Any, value: str) -> Any:
    if "\n" in value.rstrip("\n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if len(value) > 80 and value == value.strip() and "  " not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ReadableDumper.add_representer(str, _represent_str)


def tool_document(tool: Tool) -> dict[str, Any]:
    """The tool as plain data in field order, leaving out values equal to their defaults."""
    return tool.document(exclude_defaults=True)


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )


def dump_tool(tool: Tool) -> str:
    return dump_yaml(tool_document(tool))


def dump_tools(tools: list[Tool]) -> str:
    """Several tools in one YAML document (a list), as the API's export returns them."""
    return dump_yaml([tool_document(t) for t in tools])
