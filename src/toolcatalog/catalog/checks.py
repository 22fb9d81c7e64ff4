"""Checking a definition without writing it: its problems (with JSON paths) and advice on
what is valid but probably unintended (unknown capability names, no examples, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolcatalog.catalog.documents import canonical_definition
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.writes import validate_tool
from toolcatalog.errors import InvalidDefinition, Problem, StoreUnavailable
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Status, Tool


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
    warnings = tool_warnings(tool)
    try:
        snapshot = await catalog.get_all_tools_with_structure()
    except StoreUnavailable:
        warnings.append("the catalog is unreachable: not compared with the stored tools")
    else:
        warnings += catalog_warnings(tool, snapshot)
    return DefinitionCheck(tool, [], warnings)


def tool_warnings(tool: Tool) -> list[str]:
    out = []
    if not tool.examples:
        out.append("examples: none given; requests it serves help the selector find it")
    if not tool.enabled or tool.status is Status.disabled:
        out.append("the tool is disabled: the selector will not offer it")
    elif tool.status is Status.deprecated:
        out.append("status: deprecated; the selector lowers its relevance")
    return out


def catalog_warnings(tool: Tool, snapshot: CatalogSnapshot) -> list[str]:
    out = []
    vocabulary = snapshot.vocabulary
    if vocabulary is not None:
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
    stored = snapshot.by_name.get(tool.name)
    if stored is not None:
        if canonical_definition(stored) == canonical_definition(tool):
            out.append(f"tool {tool.name!r} is stored with this exact definition already")
        else:
            out.append(f"tool {tool.name!r} exists; writing this definition would replace it")
    return out
