"""Checking a definition without writing it: its problems (with JSON paths) and advice on
what is valid but probably unintended (unknown capability names, no examples, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.catalog.documents import canonical_definition
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.version import CatalogVersion
from toolcatalog.catalog.writes import validate_tool
from toolcatalog.errors import InvalidDefinition, Problem, StoreUnavailable
from toolcatalog.model.execution import Execution
from toolcatalog.model.expressions import parse_expression
from toolcatalog.model.tool import Status, Tool
from toolcatalog.model.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class DefinitionCheck:
    tool: Tool | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.tool is not None and not self.problems


async def check_definition(catalog: ToolCatalogService, data: Any) -> DefinitionCheck:
    """Validate `data` as a tool and compare it with the catalog. The comparison is advice:
    while the database is unreachable the check still answers, without it."""
    try:
        tool = validate_tool(data)
    except InvalidDefinition as exc:
        return DefinitionCheck(None, exc.problems or [Problem("", exc.detail)])
    return await check_tool(catalog, tool)


async def check_tool(catalog: ToolCatalogService, tool: Tool) -> DefinitionCheck:
    """`check_definition` of a tool already validated: its warnings only."""
    warnings = tool_warnings(tool)
    try:
        version = await catalog.catalog_version()
    except StoreUnavailable:
        warnings.append("the catalog is unreachable: not compared with the stored tools")
    else:
        warnings += catalog_warnings(tool, version)
    return DefinitionCheck(tool, [], warnings)


def tool_warnings(tool: Tool) -> list[str]:
    """Advice on the definition alone, the same at every door (API validate, CLI validate
    and import): valid, but probably not what was meant."""
    out = []
    if not tool.examples:
        out.append("examples: none given; requests it serves help the selector find it")
    if not tool.enabled or tool.status is Status.disabled:
        out.append("the tool is disabled: the selector will not offer it")
    elif tool.status is Status.deprecated:
        out.append("status: deprecated; the selector lowers its relevance")
    return out + placeholder_warnings(tool) + condition_warnings(tool)


# `{name}` in a template, not shell's `${name}` nor awk's `{print $1}`.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _placeholders(execution: Execution) -> set[str]:
    texts = (execution.command, execution.url, execution.body)
    return {name for text in texts if text for name in _PLACEHOLDER.findall(text)}


def placeholder_warnings(tool: Tool) -> list[str]:
    """Placeholders of a pattern's execution (its own over the tool's) that the pattern does
    not declare as inputs: nothing would fill them when it runs."""
    missing: dict[str, list[str]] = {}
    for cap in tool.capabilities:
        for pattern in cap.patterns:
            execution = tool.execution_for(pattern)
            if execution is None:
                continue
            declared = set(pattern.inputs.get("properties", {}))
            for name in sorted(_placeholders(execution) - declared):
                missing.setdefault(name, []).append(pattern.name)
    return [
        f"execution: placeholder {{{name}}} is not an input of pattern(s) "
        f"{', '.join(patterns)}; declare it under inputs.properties"
        for name, patterns in missing.items()
    ]


def condition_warnings(tool: Tool) -> list[str]:
    """requires_background_if naming inputs that are not numbers or booleans: a condition
    cannot compare them, so it is never evaluated (the pattern is never sent to the
    background by it)."""
    out = []
    for i, cap in enumerate(tool.capabilities):
        for j, pattern in enumerate(cap.patterns):
            condition = pattern.policy.requires_background_if
            if condition is None:
                continue
            props = pattern.inputs.get("properties", {})
            wrong = sorted(
                name
                for name in parse_expression(condition).names
                if props.get(name, {}).get("type") not in (None, "number", "integer", "boolean")
            )
            if wrong:
                kinds = ", ".join(f"{n} ({props[n].get('type')})" for n in wrong)
                out.append(
                    f"capabilities[{i}].patterns[{j}].policy.requires_background_if: "
                    f"{condition!r} uses input(s) that are not numbers or booleans: {kinds}; "
                    "the condition can never be evaluated"
                )
    return out


def vocabulary_warnings(tool: Tool, vocabulary: Vocabulary | None) -> list[str]:
    """Capability names outside the shared vocabulary, or aliases of a canonical name."""
    out: list[str] = []
    if vocabulary is None:
        return out
    for i, cap in enumerate(tool.capabilities):
        canonical = vocabulary.resolve(cap.name)
        if canonical is None:
            out.append(
                f"capabilities[{i}].name: {cap.name!r} is not in the shared capability "
                "vocabulary, so requests will not match it by name"
            )
        elif canonical != cap.name:
            out.append(
                f"capabilities[{i}].name: {cap.name!r} is an alias; the vocabulary "
                f"calls it {canonical!r}"
            )
    return out


def catalog_warnings(tool: Tool, version: CatalogVersion) -> list[str]:
    out = vocabulary_warnings(tool, version.snapshot.vocabulary)
    # The version's entry by name: the snapshot's table by name was a walk of every tool
    # once a snapshot, on the loop (~2 us a tool), at the first check after each write.
    entry = version.entries.get(tool.name)
    stored = entry.tool if entry is not None else None
    if stored is not None:
        if canonical_definition(stored) == canonical_definition(tool):
            out.append(f"tool {tool.name!r} is stored with this exact definition already")
        else:
            out.append(f"tool {tool.name!r} exists; writing this definition would replace it")
    return out
