"""Drafts of tool definitions as YAML text: the skeletons a new tool starts from, and checking
a draft (YAML syntax, the JSON Schema of a tool, the expression language) with each problem
at its line."""

from __future__ import annotations

from typing import Any

from toolcatalog.catalog.checks import DefinitionCheck, check_tool
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import LineIndex, parse_text, validate_documents
from toolcatalog.formats.dump import dump_tool
from toolcatalog.model.tool import Tool

# One definition; the largest in the starter catalog is ~12 kB.
MAX_DRAFT_CHARS = 200_000

_PATTERN = """\
capabilities:
  - name: {capability}
    description: What this capability finds out or does.
    patterns:
      - name: {pattern}
        description: One way of doing it, and what it is good and bad at.
        effect: {effect}
        inputs:
          type: object
          properties:
            {input}: {{type: string}}
          required: [{input}]
        profile:
          time_estimate_ms: 500
          cost_estimate: 1
          complexity: 0.3
          accuracy: 0.8
          completeness: 0.7
        policy:
          production_safe: {safe}
examples:
  - a request in the words of the people who will ask for it
"""
SKELETONS: dict[str, str] = {
    "command": """\
name: new_command_tool
version: 1.0.0
description: What the command does, when to use it and when not to.
platform: linux
category: system
tags: [example]
execution:
  kind: command
  command: mycommand --target {target}
"""
    + _PATTERN.format(
        capability="system_info", pattern="default", effect="read", input="target", safe="true"
    ),
    "api": """\
name: new_api_tool
version: 1.0.0
description: What the API answers, when to use it and when not to.
platform: cloud
category: monitoring
tags: [example]
execution:
  kind: http
  method: GET
  url: https://api.example.com/v1/items/{item_id}
  credentials: [EXAMPLE_API_TOKEN]
"""
    + _PATTERN.format(
        capability="item_lookup", pattern="by_id", effect="read", input="item_id", safe="true"
    ),
    "script": """\
name: new_script_tool
version: 1.0.0
description: What the script does, when to use it and when not to.
platform: linux
category: automation
tags: [example]
execution:
  kind: script
  command: ./scripts/do_it.sh {host}
"""
    + _PATTERN.format(
        capability="remediation", pattern="run_once", effect="change", input="host", safe="false"
    ),
}


def copy_of(tool: Tool) -> str:
    """A draft starting from an existing tool, under a new name."""
    text = dump_tool(tool)
    return text.replace(f"name: {tool.name}\n", f"name: {tool.name[:58]}_copy\n", 1)


def parse_draft(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The draft as one tool's mapping (not validated), or None and why not."""
    if len(text) > MAX_DRAFT_CHARS:
        return None, [Problem("", f"the draft is over {MAX_DRAFT_CHARS} characters")]
    if not text.strip():
        return None, [Problem("", "the draft is empty: write a tool definition")]
    try:
        data = parse_text(text, None)
    except InvalidDefinition as exc:
        return None, exc.problems or [Problem("", exc.detail)]
    if not isinstance(data, dict) or "vocabulary" in data or "tools" in data:
        return None, [Problem("", "write one tool definition: a YAML mapping", line=1)]
    return data, []


async def check_draft(
    catalog: ToolCatalogService, text: str, *, name: str | None = None
) -> DefinitionCheck:
    """Every problem of the draft, each with its line where it has one; `name`: the draft
    must keep this name (editing a tool). Warnings are advice (checks.py), not problems."""
    data, problems = parse_draft(text)
    if data is None:
        return DefinitionCheck(None, problems)
    return await check_document(catalog, data, name=name, text=text)


async def check_document(
    catalog: ToolCatalogService, data: dict[str, Any], *, name: str | None, text: str | None
) -> DefinitionCheck:
    """`check_draft` of a parsed draft (the YAML editor's, or the form's document); `text`
    (the YAML) gives each problem its line."""
    tools, problems, _ = validate_documents(data, file=None, text=text)
    if problems or not tools:
        return DefinitionCheck(None, problems)
    tool = tools[0].tool
    if name is not None and tool.name != name:
        line = LineIndex(text, None).line(("name",)) if text is not None else None
        message = f"must stay {name!r}; to copy this tool under a new name, use New tool"
        return DefinitionCheck(None, [Problem("name", message, line=line)])
    check = await check_tool(catalog, tool)
    # Editing a tool replaces it: that is the point, not advice.
    replacing = f"tool {tool.name!r} exists;"
    warnings = [w for w in check.warnings if name is None or not w.startswith(replacing)]
    return DefinitionCheck(tool, list(check.problems), warnings)
