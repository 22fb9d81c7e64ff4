"""Our tools in the OpsConductor (seed) platform's response shapes, and its update body as
a merge patch of ours: the seed contract's translation, kept apart from its routes.

The seed's clients read `tool_name`, `id`, `version`, `status`, `enabled`, `defaults`,
`dependencies`, `metadata`, `created_at`/`updated_at`/`created_by`/`updated_by`; patterns as
`pattern_name` with `time_estimate_ms`, `cost_estimate`, `complexity_score`, ... What the
converter kept under `metadata.opsconductor` (defaults, dependencies, the seed's own
metadata, created_by) comes back where the seed had it.
"""

from __future__ import annotations

from typing import Any

from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Capability, Status, Tool

KEPT = "opsconductor"  # where the converter keeps the seed fields we have no place for
# The seed's statuses are ours but for `testing`, which we call `experimental`.
SEED_STATUS = {Status.experimental: "testing"}
OUR_STATUS = {"testing": Status.experimental.value}
SEED_STATUSES = ("active", "deprecated", "disabled", "testing", "experimental")


def kept(tool: Tool) -> dict[str, Any]:
    value = tool.metadata.get(KEPT)
    return value if isinstance(value, dict) else {}


def seed_status(status: Status) -> str:
    return SEED_STATUS.get(status, status.value)


def _seed_metadata(tool: Tool, seed: dict[str, Any]) -> dict[str, Any]:
    ours = {k: v for k, v in tool.metadata.items() if k != KEPT}
    theirs = seed.get("metadata")
    return {**ours, **(theirs if isinstance(theirs, dict) else {}), "tags": list(tool.tags)}


def _of_type(value: Any, kind: type, default: Any) -> Any:
    return value if isinstance(value, kind) else default


def _described(tool: Tool, seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": tool.version,
        "description": tool.description,
        "platform": tool.platform.value,
        "category": tool.category,
        "defaults": _of_type(seed.get("defaults"), dict, {}),
        "dependencies": _of_type(seed.get("dependencies"), list, []),
        "metadata": _seed_metadata(tool, seed),
    }


def seed_tool(cached: CachedTool) -> dict[str, Any]:
    """The seed's ToolResponse (plus `revision`, which its clients ignore)."""
    tool = cached.tool
    seed = kept(tool)
    return {
        "id": cached.id,
        "tool_name": tool.name,
        **_described(tool, seed),
        "status": seed_status(tool.status),
        "enabled": tool.enabled,
        "created_at": cached.created_at,
        "updated_at": cached.updated_at,
        "created_by": _of_type(seed.get("created_by"), str, None),
        "updated_by": _of_type(seed.get("updated_by"), str, None),
        "revision": cached.revision,
    }


def _fields(schema: dict[str, Any], *, with_required: bool) -> list[dict[str, Any]]:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return []
    required = set(schema.get("required") or ())
    out = []
    for name, sub in props.items():
        field: dict[str, Any] = {"name": name, "type": sub.get("type", "string")}
        if with_required:
            field["required"] = name in required
        field["description"] = sub.get("description")
        out.append(field)
    return out


def seed_pattern(pattern: Pattern) -> dict[str, Any]:
    profile = pattern.profile
    return {
        "pattern_name": pattern.name,
        "description": pattern.description,
        "typical_use_cases": list(pattern.typical_use_cases),
        "time_estimate_ms": str(profile.time_estimate_ms),
        "cost_estimate": str(profile.cost_estimate),
        "complexity_score": profile.complexity,
        "completeness": profile.completeness,
        "limitations": list(profile.limitations),
        "policy": pattern.policy.model_dump(mode="json", exclude_none=True),
        "required_inputs": _fields(pattern.inputs, with_required=True),
        "expected_outputs": _fields(pattern.outputs, with_required=False),
    }


def seed_capability_tool(cached: CachedTool, capability: Capability) -> dict[str, Any]:
    """A tool as the seed's tools-by-capability answer has it: that capability only."""
    tool = cached.tool
    return {
        "tool_id": cached.id,
        "tool_name": tool.name,
        **_described(tool, kept(tool)),
        "capabilities": {
            capability.name: {
                "capability_name": capability.name,
                "description": capability.description,
                "patterns": [seed_pattern(p) for p in capability.patterns],
            }
        },
    }


def seed_version(name: str, revision: int, definition: dict[str, Any], created_at: Any,
                 latest: bool) -> dict[str, Any]:  # fmt: skip
    """One entry of the seed's versions list; a revision of ours is a version of the seed's."""
    status = definition.get("status", Status.active.value)
    return {
        "id": revision,
        "tool_name": name,
        "version": definition.get("version"),
        "revision": revision,
        "status": SEED_STATUS.get(Status(status), status),
        "enabled": definition.get("enabled", True),
        "created_at": created_at,
        "updated_at": created_at,
        "is_latest": latest,
    }


def update_patch(body: dict[str, Any], current: Tool) -> dict[str, Any]:
    """The seed's ToolUpdate (every field optional, null meaning unchanged) as a merge patch
    of our definition. `defaults`, `dependencies`, `updated_by` and `metadata` go where the
    converter keeps the seed's fields; `metadata.tags` become our tags. The seed replaced
    each field whole, so keys of `current` that a mapping drops are removed (null)."""
    patch: dict[str, Any] = {}
    for key in ("description", "enabled"):
        if body.get(key) is not None:
            patch[key] = body[key]
    if body.get("status") is not None:
        patch["status"] = OUR_STATUS.get(body["status"], body["status"])
    before = kept(current)
    seed: dict[str, Any] = {}
    for key in ("defaults", "dependencies", "updated_by", "metadata"):
        value = body.get(key)
        if value is None:
            continue
        if key == "metadata" and isinstance(value, dict) and "tags" in value:
            value = {k: v for k, v in value.items() if k != "tags"}
            patch["tags"] = body[key]["tags"]
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            value = {**dict.fromkeys(set(old) - set(value)), **value}
        seed[key] = value
    if seed:
        patch["metadata"] = {KEPT: seed}
    return patch
