"""Rows of a running OpsConductor database (its `tool_catalog` schema) as the seed's own tool
documents, in the list shape its API used, so they convert exactly like its files; and the
correspondence of seed names to ours, for the history that refers to them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.definitions import LoadedTool, LoadResult
from toolcatalog.formats.opsconductor.files import convert_opsconductor
from toolcatalog.formats.opsconductor.naming import Naming
from toolcatalog.formats.opsconductor.report import MigrationReport
from toolcatalog.model.tool import Tool

# Row bookkeeping of the seed's database, not tool data: not carried into the documents.
TOOL_ROW_ONLY = frozenset({"id", "parent_version_id", "is_latest"})
CAPABILITY_ROW_ONLY = frozenset({"id", "tool_id", "created_at"})
PATTERN_ROW_ONLY = frozenset({"id", "capability_id", "created_at", "updated_at"})

SeedKey = tuple[str, str, str]  # tool_name, capability_name, pattern_name as the seed wrote them


def row_document(tool: dict[str, Any]) -> dict[str, Any]:
    """One `tools` row, with its capability and pattern rows nested, as a seed tool document."""
    doc = _fields(tool, TOOL_ROW_ONLY | {"capabilities"})
    doc["capabilities"] = [
        {
            **_fields(capability, CAPABILITY_ROW_ONLY | {"patterns"}),
            "patterns": [_fields(p, PATTERN_ROW_ONLY) for p in capability.get("patterns", [])],
        }
        for capability in tool.get("capabilities", [])
    ]
    return doc


def convert_rows(
    tools: Sequence[dict[str, Any]], source: str, naming: Naming | None
) -> tuple[LoadResult, MigrationReport, dict[SeedKey, SeedKey], dict[str, str]]:
    """Every tool row converted, each labelled `<source>#tools/<id>` in problems and reports.
    Returns the load result and report as for files, seed -> our (tool, capability, pattern)
    names of every converted pattern, and seed -> our tool names."""
    result, report = LoadResult(), MigrationReport()
    patterns: dict[SeedKey, SeedKey] = {}
    names: dict[str, str] = {}
    for row in tools:
        label = f"{source}#tools/{row.get('id')}"
        doc = row_document(row)
        try:
            tool, tool_report = convert_opsconductor(doc, file=label, naming=naming)
        except InvalidDefinition as exc:
            result.problems.extend(exc.problems)
            report.refuse(exc.problems)
            continue
        if not result.add_tool(LoadedTool(tool, label), name_path="tool_name"):
            report.refuse(result.problems[-1:])
            continue
        report.tools.append(tool_report)
        names[str(doc["tool_name"])] = tool.name
        patterns.update(_pattern_names(doc, tool))
    return result, report, patterns, names


def _pattern_names(doc: dict[str, Any], tool: Tool) -> dict[SeedKey, SeedKey]:
    # The converter keeps the seed's order of capabilities and patterns.
    out: dict[SeedKey, SeedKey] = {}
    for seed_cap, cap in zip(doc["capabilities"], tool.capabilities, strict=True):
        for seed_pattern, pattern in zip(seed_cap["patterns"], cap.patterns, strict=True):
            key = (doc["tool_name"], seed_cap["capability_name"], seed_pattern["pattern_name"])
            out[key] = (tool.name, cap.name, pattern.name)
    return out


def _fields(row: dict[str, Any], leave_out: frozenset[str]) -> dict[str, Any]:
    # A NULL column says nothing, as an absent field does in the seed's files.
    return {k: v for k, v in row.items() if k not in leave_out and v is not None}
