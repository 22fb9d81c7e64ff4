"""YAML from HTTP clients, parsed defensively before it reaches the definition loader.

Guards against measured failures of PyYAML's C loader on hostile input:
- nesting and alias expansion are bounded by `parse_text` for files and HTTP alike;
- aliases: over HTTP any shared or recursive container is refused outright (no anchors);
- types: YAML has dates, binary, sets and non-string keys that JSON cannot store.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import parse_text, validate_documents
from toolcatalog.model.tool import Tool

_INDEX = re.compile(r"^\[(\d+)\]")


class UnsafeYaml(InvalidDefinition):
    """YAML that does not parse, or that the API refuses to parse."""


class TooManyTools(InvalidDefinition):
    """More tools in one request than TOOLCATALOG_IMPORT_MAX_TOOLS (422)."""

    code = "too_many_tools"
    title = "Too many tools"

    def __init__(self, found: int, limit: int, where: str) -> None:
        super().__init__(
            f"the request holds {found} tools; at most {limit} are accepted per request "
            "(TOOLCATALOG_IMPORT_MAX_TOOLS): split it",
            [Problem(where, f"at most {limit} tools")],
        )


# Problems listed in an import's answer: a document of 250,000 empty maps answered 97 MB
# before; the count of failed tools stays exact.
MAX_REPORTED_FAILURES = 100


@dataclass(slots=True)
class ParsedTools:
    tools: list[Tool] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    failed_count: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_yaml_data(text: str, max_tools: int = 10_000) -> Any:
    """`text` as JSON-like data, with the guards above. Raises UnsafeYaml when the text is
    refused, TooManyTools past `max_tools` documents (before any validation)."""
    try:
        data = parse_text(text, None)
    except InvalidDefinition as exc:  # a syntax error, with its line
        raise UnsafeYaml(exc.detail, exc.problems) from None
    items = data.get("tools") if isinstance(data, dict) else data
    if isinstance(items, list) and len(items) > max_tools:
        raise TooManyTools(len(items), max_tools, "yaml_content")
    _refuse_shared_nodes(data)
    try:
        return _as_json_data(data)
    except TypeError as exc:
        raise UnsafeYaml(
            "the YAML holds values JSON cannot represent",
            [Problem("", f"{exc} (binary, sets and non-string keys are not accepted)")],
        ) from None


def parse_tools_yaml(text: str, max_tools: int = 10_000) -> ParsedTools:
    """The tools in `text` (one, a list, or `{tools: [...]}`) and, per invalid document, its
    problems with JSON path and line (the first MAX_REPORTED_FAILURES). Raises UnsafeYaml
    when the text is refused, TooManyTools past `max_tools` (before any validation). CPU
    work of up to seconds: callers run it in a thread."""
    data = parse_yaml_data(text, max_tools)
    loaded, problems, is_vocabulary = validate_documents(data, file=None, text=text)
    result = ParsedTools(tools=[lt.tool for lt in loaded])
    if is_vocabulary:
        result.warnings.append(
            "a capability vocabulary is imported with `toolcatalog import`; ignored here"
        )
        return result
    if not loaded and not problems:
        problems = [Problem("", "no tool definitions found")]
    failed: set[str] = set()
    for p in problems:
        tool = _tool_label(data, p.path)
        failed.add(tool)
        if len(result.failures) < MAX_REPORTED_FAILURES:
            result.failures.append(
                {"tool": tool, "error": p.message, "path": p.path, "line": p.line}
            )
    if len(problems) > MAX_REPORTED_FAILURES:
        result.warnings.append(
            f"{len(problems) - MAX_REPORTED_FAILURES} more problems not listed "
            f"(the first {MAX_REPORTED_FAILURES} are)"
        )
    result.failed_count = len(failed)
    return result


def _as_json_data(data: Any) -> Any:
    """`data` with dates as ISO text; TypeError for what JSON has no form for. Floats stay as
    they are (a round trip through orjson would turn .nan into null silently): the model
    refuses the non-finite ones with their path and line."""
    if isinstance(data, dict):
        if not all(isinstance(k, str) for k in data):
            raise TypeError("mapping keys must be strings")
        return {k: _as_json_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_as_json_data(v) for v in data]
    if isinstance(data, dt.date):  # a datetime is a date too
        return data.isoformat()
    if data is None or isinstance(data, str | int | float):
        return data
    raise TypeError(f"a {type(data).__name__} value has no JSON form")


def _tool_label(data: Any, path: str) -> str:
    match = _INDEX.match(path)
    item = data
    if match:
        items = data.get("tools") if isinstance(data, dict) else data
        item = items[int(match.group(1))] if isinstance(items, list) else None
    name = item.get("name") if isinstance(item, dict) else None
    if isinstance(name, str) and name:
        return name
    return f"[{match.group(1)}]" if match else ""


def _refuse_shared_nodes(data: Any) -> None:
    seen: set[int] = set()
    stack = [data]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if id(node) in seen:
            raise UnsafeYaml(
                "YAML anchors and aliases are not accepted over HTTP",
                [Problem("", "write each value out in full (no &anchor / *alias / <<: merge)")],
            )
        seen.add(id(node))
        stack.extend(node.values() if isinstance(node, dict) else node)
