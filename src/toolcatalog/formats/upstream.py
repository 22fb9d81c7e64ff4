"""Tools converted from an upstream (an MCP server's tools/list, an OpenAPI spec) carry a pin
under `metadata["upstream"]`: where they came from and a SHA-256 of what was imported (for MCP:
name, title, description, input schema, annotations). A re-import compares pins, not
definitions, so an editor's local changes stay and a changed upstream is reported as drift.

The pin lives in the tool's own document rather than in a table of its own: it is versioned
with the definition (a rollback restores the pin that matches the restored text), it travels
with export and import, and no migration is needed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from toolcatalog.errors import Problem
from toolcatalog.formats.opsconductor.naming import MappingEntry, Naming
from toolcatalog.formats.opsconductor.values import snake
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.fields import TOOL_NAME_RE
from toolcatalog.model.tool import RESERVED_NAMES, Tool
from toolcatalog.model.vocabulary import Vocabulary

UPSTREAM_KEY = "upstream"
MAX_DESCRIPTION = 10_000
UNMEASURED = "unmeasured: neutral estimates from an import; measure before trusting them"


@dataclass(frozen=True, slots=True)
class UpstreamSource:
    """Where an import reads from: an MCP server (stdio command or Streamable HTTP URL) or an
    OpenAPI spec (file or URL). `server` and `version` are what the upstream calls itself."""

    kind: Literal["mcp", "openapi"]
    server: str
    transport: Literal["stdio", "streamable-http", "file", "url", "inline"]
    target: str
    version: str | None = None

    def pin(self, upstream_tool: str, document: Any) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "server": self.server,
            "server_version": self.version,
            "transport": self.transport,
            "target": self.target,
            "tool": upstream_tool,
            "sha256": pin_hash(document),
        }


def pin_hash(document: Any) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def pin_of(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The tool's pin (from its metadata), or None when it was not imported from an upstream."""
    pin = metadata.get(UPSTREAM_KEY)
    if isinstance(pin, dict) and all(isinstance(pin.get(k), str) for k in ("server", "sha256")):
        return pin
    return None


def pin_key(pin: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(pin.get("kind")), str(pin.get("server")), str(pin.get("tool")))


@dataclass
class UpstreamResult:
    """What a conversion gives: the tools, the upstream items refused (with why), capability
    names that the vocabulary lacks (proposed, with the tools using them), and notes."""

    source: UpstreamSource
    tools: list[Tool] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    proposed: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)


def tool_name(text: str, server: str) -> str:
    """An upstream name as ours ('get-Forecast' -> get_forecast); a name that cannot be one
    ('', '42', 'x', a reserved word) gets the server's name in front."""
    name = snake(text)[:64].strip("_")
    if not re.fullmatch(TOOL_NAME_RE, name) or name in RESERVED_NAMES:
        name = f"{server_prefix(server)}_{name}".strip("_")[:64].strip("_")
    return name


def server_prefix(server: str) -> str:
    prefix = snake(server.rsplit("/", 1)[-1])[:40].strip("_")
    return prefix if re.fullmatch(r"[a-z][a-z0-9_]*", prefix) else "mcp"


def short(text: str, notes: list[str], where: str) -> str:
    if len(text) <= MAX_DESCRIPTION:
        return text
    notes.append(f"{where}: description cut to {MAX_DESCRIPTION} characters (was {len(text)})")
    return text[: MAX_DESCRIPTION - 1] + "…"


class CapabilityNamer:
    """A capability name for an upstream operation: the vocabulary entry its words match
    best, else a name drawn from its description (proposed as new, reported)."""

    def __init__(self, vocabulary: Vocabulary | None) -> None:
        self.vocabulary = vocabulary
        self.naming = Naming(vocabulary)

    def name(
        self, data: dict[str, Any], result: UpstreamResult, tool: str, fallback: str = ""
    ) -> tuple[str, str]:
        """(capability name, its description). Without a vocabulary match the name is
        `fallback` when given (an MCP tool's own name, get_forecast, says more than words
        drawn from its description), else drawn from the description."""
        name, _how = self.naming.capability_for(data, MappingEntry())
        if self.vocabulary is not None and (canonical := self.vocabulary.resolve(name)):
            entry = next(e for e in self.vocabulary.vocabulary if e.name == canonical)
            return canonical, entry.description
        name = fallback or name
        tools = result.proposed.setdefault(name, [])
        if tool not in tools:
            tools.append(tool)
        return name, str(data.get("description") or name.replace("_", " "))


def validated(
    documents: Sequence[tuple[str, dict[str, Any]]], result: UpstreamResult, file: str
) -> None:
    """Validate each (upstream name, document) as a Tool into `result`; an invalid one is
    refused with its problems, prefixed by its upstream name."""
    for upstream, document in documents:
        try:
            result.tools.append(Tool.model_validate(document))
        except ValidationError as exc:
            result.problems += problems_from_validation(exc, file=file, prefix=(upstream,))


def place_names(
    tools: Sequence[Tool], existing: Mapping[str, Tool]
) -> tuple[list[Tool], dict[str, str]]:
    """Our names for upstream tools: the name of the catalog tool already pinned to the same
    upstream tool (so a re-import finds it), else the converted name, prefixed with the
    server's name when a tool not from that upstream has it (or another tool of this import).
    Returns the renamed tools and {converted name: name given} for those that changed."""
    pinned: dict[tuple[str, str, str], str] = {}
    for name, tool in existing.items():
        if (pin := pin_of(tool.metadata)) is not None:
            pinned.setdefault(pin_key(pin), name)
    used: set[str] = set()
    out: list[Tool] = []
    renamed: dict[str, str] = {}

    def foreign(name: str, pin: dict[str, Any] | None) -> bool:
        """Whether `name` is used by this import or by a tool not pinned to `pin`."""
        if name in used:
            return True
        other = existing.get(name)
        if other is None:
            return False
        theirs = pin_of(other.metadata)
        return pin is None or theirs is None or pin_key(theirs) != pin_key(pin)

    for tool in tools:
        pin = pin_of(tool.metadata)
        found = pinned.get(pin_key(pin)) if pin is not None else None
        name = found if found is not None and found not in used else tool.name
        if name != found and foreign(name, pin):
            base = f"{server_prefix(str((pin or {}).get('server', '')))}_{tool.name}"[:64]
            name, n = base, 2
            while foreign(name, pin):
                name = f"{base[:60]}_{n}"
                n += 1
        used.add(name)
        if name != tool.name:
            renamed[tool.name] = name
            tool = tool.model_copy(update={"name": name})
        out.append(tool)
    return out, renamed
