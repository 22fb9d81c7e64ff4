"""Draft tools from what an editor pastes: a command's `--help` text (formats.help_text), an
OpenAPI document or one of its operations, an MCP tool definition (the importers of
`toolcatalog import --format openapi|mcp`). A draft only fills the editor: nothing is saved
until the editor presses Save there. Pastes are bounded, binary is refused, and every text
reaches the page through the escaping templates."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.upstream import mcp_source, spec_from_text
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import parse_text
from toolcatalog.formats.dump import dump_tool, dump_yaml
from toolcatalog.formats.help_text import draft_from_help, refuse_binary
from toolcatalog.formats.mcp_tools import tools_from_mcp
from toolcatalog.formats.openapi import METHODS, tools_from_openapi
from toolcatalog.formats.upstream import UpstreamResult, UpstreamSource, place_names
from toolcatalog.model.snapshot import CatalogSnapshot

Source = Literal["help", "openapi", "mcp"]
SOURCES: dict[str, str] = {
    "help": "a command's --help text",
    "openapi": "an OpenAPI document",
    "mcp": "an MCP tool definition",
}
# An OpenAPI document may be large (the service's body limit, 1 MiB by default, comes first).
MAX_PASTE_CHARS = 1_000_000
MAX_LISTED = 20


@dataclass
class GeneratedDraft:
    """A draft for the editor: its YAML, and what the reviewer should look at."""

    source: str
    yaml: str
    notes: list[str] = field(default_factory=list)
    proposed: list[str] = field(default_factory=list)

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)


async def generate(
    catalog: ToolCatalogService, source: str, text: str, *, pick: str = "", server: str = ""
) -> GeneratedDraft:
    """The draft from `text`; `pick`: the OpenAPI operation (operationId or `GET /path`) or
    the MCP tool (by name) when the paste holds several; `server`: the MCP server's address.
    InvalidDefinition says what is wrong with the paste and what to paste instead."""
    if source not in SOURCES:
        raise InvalidDefinition("unknown source", [Problem("source", "pick help, openapi or mcp")])
    what = SOURCES[source]
    if not text.strip():
        raise InvalidDefinition(f"paste {what}", [Problem("text", "the box is empty")])
    if len(text) > MAX_PASTE_CHARS:
        raise InvalidDefinition(
            f"the paste is too long for {what}",
            [Problem("text", f"{len(text)} characters; at most {MAX_PASTE_CHARS}")],
        )
    refuse_binary(text, what)
    snapshot = await catalog.get_all_tools_with_structure()
    if source == "help":
        drafted = await anyio.to_thread.run_sync(draft_from_help, text, snapshot.vocabulary)
        notes = [*drafted.notes, *_proposed_notes(drafted.proposed)]
        return GeneratedDraft(source, dump_yaml(drafted.document), notes, list(drafted.proposed))
    if source == "openapi":
        result = await anyio.to_thread.run_sync(_from_openapi, text, pick, snapshot)
    else:
        result = await anyio.to_thread.run_sync(_from_mcp, text, pick, server, snapshot)
    if result.problems:
        raise InvalidDefinition(f"{what} did not convert to a valid tool", result.problems)
    # A walk of every tool's pin (and the snapshot's table by name, once a snapshot): beside
    # the loop, as the conversion.
    tools, renamed = await anyio.to_thread.run_sync(
        lambda: place_names(result.tools, snapshot.by_name)
    )
    notes = list(result.notes)
    notes += [f"named {new!r}: {old!r} is taken" for old, new in renamed.items()]
    return GeneratedDraft(
        source, dump_tool(tools[0]), [*notes, *_proposed_notes(result.proposed)],
        list(result.proposed),
    )  # fmt: skip


def _proposed_notes(proposed: dict[str, list[str]]) -> list[str]:
    return [
        f"capability {name!r} is not in the vocabulary: pick a vocabulary name or propose it"
        for name in proposed
    ]


def _from_openapi(text: str, pick: str, snapshot: CatalogSnapshot) -> UpstreamResult:
    origin, spec = spec_from_text(text)
    if pick.strip():
        spec = _one_operation(spec, pick.strip())
    return tools_from_openapi(spec, origin, snapshot.vocabulary)


def _one_operation(spec: dict[str, Any], pick: str) -> dict[str, Any]:
    """The spec with only the operation `pick` (its operationId, or `METHOD /path`)."""
    given = spec.get("paths")
    paths: dict[str, Any] = given if isinstance(given, dict) else {}
    found: list[str] = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            label = f"{method.upper()} {path}"
            found.append(str(op.get("operationId") or label))
            if pick in (op.get("operationId"), label, f"{method} {path}"):
                kept = {k: v for k, v in item.items() if k not in METHODS}
                return {**spec, "paths": {path: {**copy.deepcopy(kept), method: op}}}
    listed = ", ".join(found[:MAX_LISTED]) + (" ..." if len(found) > MAX_LISTED else "")
    raise InvalidDefinition(
        f"no operation {pick[:100]!r} in the document",
        [Problem("pick", f"give an operationId or 'GET /path'; the document has: {listed}")],
    )


def _mcp_listing(data: Any) -> list[dict[str, Any]]:
    """The MCP tools in a paste: one tool, a tools/list result, or its JSON-RPC answer."""
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = data["result"]
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]
    items = data if isinstance(data, list) else [data]
    tools = [t for t in items if isinstance(t, dict) and isinstance(t.get("name"), str)]
    if not tools:
        raise InvalidDefinition(
            "no MCP tool in the paste",
            [Problem("text", "paste a tool ({name, description, inputSchema, annotations}) "
                     "or a tools/list result ({tools: [...]})")],
        )  # fmt: skip
    return tools


def _from_mcp(text: str, pick: str, server: str, snapshot: CatalogSnapshot) -> UpstreamResult:
    suffix = ".json" if text.lstrip().startswith(("{", "[")) else ".yaml"
    listing = _mcp_listing(parse_text(text, "definition", suffix))
    chosen = listing[0]
    if pick.strip():
        named = [t for t in listing if t["name"] == pick.strip()]
        if not named:
            names = ", ".join(t["name"] for t in listing[:MAX_LISTED])
            raise InvalidDefinition(
                f"no MCP tool {pick[:100]!r} in the paste",
                [Problem("pick", f"the paste has: {names}")],
            )
        chosen = named[0]
    origin = _mcp_origin(server.strip())
    result = tools_from_mcp(origin, [chosen], snapshot.vocabulary)
    if len(listing) > 1:
        result.notes.append(
            f"the paste holds {len(listing)} tools; drafted {chosen['name']!r} (name another "
            "in 'Which one' to draft it)"
        )
    if origin.transport == "inline":
        result.tools = [t.model_copy(update={"execution": None}) for t in result.tools]
        result.notes.append("no server address: the draft has no execution; add it to run it")
    return result


def _mcp_origin(server: str) -> UpstreamSource:
    if not server:
        return UpstreamSource("mcp", "mcp", "inline", "pasted")
    transport, target = mcp_source(server)
    if transport == "stdio":
        name = target.split()[0].rsplit("/", 1)[-1]
    else:
        name = urlsplit(target).hostname or "mcp"
    return UpstreamSource("mcp", name, transport, target)
