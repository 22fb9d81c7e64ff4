"""What an import would do, decided without touching anything: a pure function of the tools
given and the rows stored under their names, so it is tested without a database and the
transaction that applies it stays short."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.catalog.documents import (
    canonical_bytes,
    canonical_definition,
    diff_documents,
    digest_of_bytes,
    digest_of_etag,
    etag_of,
)
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.upstream import pin_key, pin_of
from toolcatalog.model.tool import Tool
from toolcatalog.store.tools import ToolHead, ToolRecord, ToolWrite


@dataclass(frozen=True, slots=True)
class Drift:
    """An imported tool whose upstream changed since it was pinned: the pins' hashes and what
    accepting it would change in the catalog (a structured diff of the definitions)."""

    name: str
    upstream: str
    pinned_sha256: str
    upstream_sha256: str
    diff: list[dict[str, Any]]
    accepted: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "upstream": self.upstream,
            "pinned_sha256": self.pinned_sha256,
            "upstream_sha256": self.upstream_sha256,
            "accepted": self.accepted,
            "diff": self.diff,
        }


@dataclass(slots=True)
class ImportPlan:
    inserts: list[ToolWrite] = field(default_factory=list)
    updates: list[tuple[ToolWrite, ToolRecord]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    drifted: list[Drift] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.inserts) + len(self.updates)

    def extend(self, other: ImportPlan) -> None:
        """Add a plan of other tools (an import planned in chunks)."""
        for name in ImportPlan.__slots__:
            getattr(self, name).extend(getattr(other, name))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A tool to import with its stored form, that form's canonical JSON (sent as the row's
    document: jsonb keeps no key order, so it stores the same value) and its content hash (the
    one its ETag carries): the bulk of an import's planning, made beside the event loop."""

    tool: Tool
    definition: dict[str, Any]
    encoded: bytes
    digest: str


def prepare(tools: Sequence[Tool]) -> list[Prepared]:
    prepared = []
    for tool in tools:
        definition = canonical_definition(tool)
        encoded = canonical_bytes(definition)
        prepared.append(Prepared(tool, definition, encoded, digest_of_bytes(encoded)))
    return prepared


def stored_otherwise(prepared: Sequence[Prepared], heads: Mapping[str, ToolHead]) -> list[str]:
    """The names of the tools stored with other content than `prepared` gives them, by the
    content hash in the stored ETag: only their definitions are needed to plan the import."""
    return [
        p.tool.name
        for p in prepared
        if (head := heads.get(p.tool.name)) is not None and digest_of_etag(head.etag) != p.digest
    ]


def plan_import(
    tools: Sequence[Tool] | Sequence[Prepared],
    existing: Mapping[str, ToolRecord | ToolHead],
    *,
    overwrite: bool = True,
    accept_drift: bool | Collection[str] = False,
) -> ImportPlan:
    """New tools are inserted at revision 1, changed ones updated to the next revision
    (unless `overwrite` is False: then skipped), identical ones left alone (no version, no
    audit entry), so importing the same files twice changes nothing. A tool pinned to an
    upstream (see formats.upstream) is compared by its pin instead: the same upstream leaves
    it as it is (local edits stay), a changed one is drifted and left unless `accept_drift`
    (True, or the names accepted). Raises InvalidDefinition when a name appears twice.

    A stored tool whose ETag carries the content hash of its new definition is identical
    (the definitions are not compared): `existing` may give such tools as a ToolHead, every
    other stored tool as its ToolRecord (see stored_otherwise); a ToolHead of a tool that
    differs raises ValueError."""
    items = [t if isinstance(t, Prepared) else prepare([t])[0] for t in tools]
    refuse_duplicate_names([p.tool for p in items])
    plan = ImportPlan()
    for item in items:
        tool, definition = item.tool, item.definition
        old = existing.get(tool.name)
        if old is not None and digest_of_etag(old.etag) == item.digest:
            plan.unchanged.append(tool.name)
            continue
        if isinstance(old, ToolHead):
            raise ValueError(f"tool {tool.name!r} is stored otherwise; its record is needed")
        if old is not None and (drift := _pinned(tool, definition, old, accept_drift)):
            if drift.name == "":  # the same upstream as pinned
                plan.unchanged.append(tool.name)
                continue
            plan.drifted.append(drift)
            if not drift.accepted:
                continue
        if old is None:
            etag = etag_of(item.digest, 1)
            plan.inserts.append(ToolWrite(tool, definition, 1, etag, item.encoded))
            plan.created.append(tool.name)
        elif old.definition == definition:
            plan.unchanged.append(tool.name)
        elif not overwrite:
            plan.skipped.append(tool.name)
        else:
            rev = old.revision + 1
            write = ToolWrite(tool, definition, rev, etag_of(item.digest, rev), item.encoded)
            plan.updates.append((write, old))
            plan.updated.append(tool.name)
    return plan


_SAME = Drift("", "", "", "", [], False)


def _pinned(
    tool: Tool, definition: dict[str, Any], old: ToolRecord, accept: bool | Collection[str]
) -> Drift | None:
    """None when either side is not pinned to the same upstream tool; _SAME when the upstream
    is as pinned; else the drift."""
    new_pin = pin_of(tool.metadata)
    old_meta = old.definition.get("metadata")
    old_pin = pin_of(old_meta) if isinstance(old_meta, dict) else None
    if new_pin is None or old_pin is None or pin_key(new_pin) != pin_key(old_pin):
        return None
    if new_pin["sha256"] == old_pin["sha256"]:
        return _SAME
    accepted = accept is True or (not isinstance(accept, bool) and tool.name in accept)
    return Drift(
        name=tool.name,
        upstream=f"{new_pin['kind']}:{new_pin['server']}/{new_pin['tool']}",
        pinned_sha256=old_pin["sha256"],
        upstream_sha256=new_pin["sha256"],
        diff=[d for d in diff_documents(old.definition, definition)
              if not d["path"].startswith("metadata.upstream")],
        accepted=accepted,
    )  # fmt: skip


def refuse_duplicate_names(tools: Sequence[Tool]) -> None:
    seen: set[str] = set()
    problems = []
    for i, tool in enumerate(tools):
        if tool.name in seen:
            problems.append(Problem(f"[{i}].name", f"tool {tool.name!r} appears twice"))
        seen.add(tool.name)
    if problems:
        raise InvalidDefinition("the same tool is defined more than once", problems)
