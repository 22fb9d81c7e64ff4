"""An MCP server's `tools/list` as catalog tools: one tool per MCP tool, its description and
input schema kept, its capability named into the shared vocabulary, its annotations mapped to
effect and policy, neutral profiles marked unmeasured, the server as the execution target.

    MCP annotations (spec defaults: readOnly false, destructive true)   ours
    readOnlyHint: true                                 effect read, production_safe
    readOnlyHint: false, destructiveHint: false        effect change, requires_approval
    readOnlyHint: false, destructiveHint: true|unset   effect destructive, requires_approval
    no readOnlyHint                                    effect undeclared (inferred: change),
                                                       requires_approval
    idempotentHint / openWorldHint: true               tags idempotent / open-world

An unannotated tool says nothing about what it does, so its effect stays undeclared: the
selector's intent rule then does not treat a guess as a fact (see Pattern.effect_declared)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolcatalog.formats.upstream import (
    UNMEASURED,
    CapabilityNamer,
    UpstreamResult,
    UpstreamSource,
    server_prefix,
    short,
    tool_name,
    validated,
)
from toolcatalog.model.vocabulary import Vocabulary

PINNED_FIELDS = ("name", "title", "description", "inputSchema", "annotations")


def pinned_document(mcp_tool: dict[str, Any]) -> dict[str, Any]:
    """What the pin's hash covers: what an agent reads of the tool."""
    return {k: mcp_tool[k] for k in PINNED_FIELDS if mcp_tool.get(k) is not None}


def effect_and_policy(annotations: Any) -> tuple[str | None, dict[str, Any], list[str]]:
    """(effect or None when undeclared, policy, tags) from an MCP tool's annotations."""
    hints = annotations if isinstance(annotations, dict) else {}
    tags = [tag for key, tag in (("idempotentHint", "idempotent"), ("openWorldHint", "open-world"))
            if hints.get(key) is True]  # fmt: skip
    read_only = hints.get("readOnlyHint")
    if read_only is True:
        return "read", {"production_safe": True}, tags
    approval = {"requires_approval": True}
    if read_only is None:
        return None, approval, tags
    destructive = hints.get("destructiveHint") is not False
    return ("destructive" if destructive else "change"), approval, tags


def tools_from_mcp(
    source: UpstreamSource, listing: Sequence[dict[str, Any]], vocabulary: Vocabulary | None
) -> UpstreamResult:
    """Convert the MCP tools (wire form: name, title, description, inputSchema, annotations)
    into Tools; invalid ones are refused in `problems`, named by their MCP name."""
    result = UpstreamResult(source)
    namer = CapabilityNamer(vocabulary)
    server = server_prefix(source.server)
    execution = (
        {"kind": "mcp", "command": source.target}
        if source.transport == "stdio"
        else {"kind": "mcp", "url": source.target}
    )
    documents = []
    for item in listing:
        upstream = str(item.get("name") or "")
        name = tool_name(upstream, source.server)
        title = item.get("title") or (item.get("annotations") or {}).get("title")
        text = str(item.get("description") or title or "").strip()
        if not text:
            text = f"{upstream} (a tool of the MCP server {source.server}; it gives no description)"
            result.notes.append(f"{upstream}: no description; the catalog says only its name")
        text = short(text, result.notes, upstream)
        effect, policy, tags = effect_and_policy(item.get("annotations"))
        capability, capability_text = namer.name(
            {"name": name, "description": text, "category": server}, result, name, name
        )
        pattern: dict[str, Any] = {
            "name": name,
            "description": text,
            "inputs": item.get("inputSchema") or {},
            "policy": policy,
            "profile": {"limitations": [UNMEASURED]},
        }
        if effect is not None:
            pattern["effect"] = effect
        if isinstance(item.get("outputSchema"), dict):
            pattern["outputs"] = item["outputSchema"]
        document = {
            "name": name,
            "display_name": str(title or upstream)[:200],
            "description": text,
            "platform": "custom",
            "category": server,
            "tags": ["mcp", server.replace("_", "-"), *tags],
            "execution": execution,
            "capabilities": [
                {
                    "name": capability,
                    "description": short(capability_text, result.notes, upstream),
                    "patterns": [pattern],
                }
            ],
            "metadata": {"upstream": source.pin(upstream, pinned_document(item))},
        }
        documents.append((upstream, document))
    validated(documents, result, source.target)
    return result
