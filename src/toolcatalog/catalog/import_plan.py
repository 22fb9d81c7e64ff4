"""What an import would do, decided without touching anything: a pure function of the tools
given and the rows stored under their names, so it is tested without a database and the
transaction that applies it stays short."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from toolcatalog.catalog.documents import canonical_definition, make_etag
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.tool import Tool
from toolcatalog.store.tools import ToolRecord, ToolWrite


@dataclass(slots=True)
class ImportPlan:
    inserts: list[ToolWrite] = field(default_factory=list)
    updates: list[tuple[ToolWrite, ToolRecord]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.inserts) + len(self.updates)


def plan_import(
    tools: Sequence[Tool], existing: Mapping[str, ToolRecord], *, overwrite: bool = True
) -> ImportPlan:
    """New tools are inserted at revision 1, changed ones updated to the next revision
    (unless `overwrite` is False: then skipped), identical ones left alone (no version, no
    audit entry), so importing the same files twice changes nothing. Raises
    InvalidDefinition when a name appears twice."""
    refuse_duplicate_names(tools)
    plan = ImportPlan()
    for tool in tools:
        definition = canonical_definition(tool)
        old = existing.get(tool.name)
        if old is None:
            plan.inserts.append(ToolWrite(tool, definition, 1, make_etag(definition, 1)))
            plan.created.append(tool.name)
        elif old.definition == definition:
            plan.unchanged.append(tool.name)
        elif not overwrite:
            plan.skipped.append(tool.name)
        else:
            rev = old.revision + 1
            plan.updates.append((ToolWrite(tool, definition, rev, make_etag(definition, rev)), old))
            plan.updated.append(tool.name)
    return plan


def refuse_duplicate_names(tools: Sequence[Tool]) -> None:
    seen: set[str] = set()
    problems = []
    for i, tool in enumerate(tools):
        if tool.name in seen:
            problems.append(Problem(f"[{i}].name", f"tool {tool.name!r} appears twice"))
        seen.add(tool.name)
    if problems:
        raise InvalidDefinition("the same tool is defined more than once", problems)
