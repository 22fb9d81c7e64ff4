"""The MCP servers the catalog knows, as the official MCP Registry's v0.1 read API shapes
them (ServerResponse: `server` = ServerDetail, `_meta` = the registry's own): one entry per
server that tools were imported from (`metadata.upstream.kind == "mcp"`), at the version
last imported. Built from a catalog version and kept per generation, so a listing at 10,000
tools costs one pass after each write, not one per request."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from toolcatalog.catalog.views import CachedTool
from toolcatalog.formats.upstream import pin_of
from toolcatalog.model.tool import Status

OFFICIAL = "io.modelcontextprotocol.registry/official"
OURS = "dev.toolcatalog/catalog"
NAME_RE = re.compile(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$")
DESCRIPTION_MAX = 100  # ServerDetail.description's maxLength
# npx/uvx/docker command lines name a package a registry client can install.
RUNTIMES = {"npx": "npm", "uvx": "pypi", "docker": "oci"}


@dataclass(frozen=True, slots=True)
class RegistryServer:
    """One server: its registry name, the answer body (ServerResponse), and what listing
    filters on."""

    name: str
    version: str
    updated_at: datetime
    body: dict[str, Any]


def registry_name(server: str, namespace: str) -> str:
    """The server's name when it is already `namespace/name`, else `namespace/<name>`."""
    if NAME_RE.fullmatch(server):
        return server
    local = re.sub(r"[^a-zA-Z0-9._-]+", "-", server).strip("-.")[:150] or "server"
    return f"{namespace}/{local}"


def _package(command: str) -> dict[str, Any] | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    runtime = words[0].rsplit("/", 1)[-1] if words else ""
    if runtime not in RUNTIMES:
        return None
    rest = [w for w in words[1:] if not w.startswith("-") and w != "run"]
    if not rest:
        return None
    return {
        "registryType": RUNTIMES[runtime],
        "identifier": rest[0],
        "runtimeHint": runtime,
        "transport": {"type": "stdio"},
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _entry(name: str, tools: Sequence[tuple[CachedTool, dict[str, Any]]]) -> RegistryServer:
    latest = max(tools, key=lambda t: t[0].updated_at)
    pin = latest[1]
    version = str(pin.get("server_version") or "0.0.0")
    names = sorted(t.tool.name for t, _ in tools)
    listed = ", ".join(names)
    description = f"{len(names)} tool(s): {listed}"
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1] + "…"
    server: dict[str, Any] = {
        "name": name,
        "description": description,
        "title": str(pin.get("server"))[:100],
        "version": version,
    }
    target = str(pin.get("target", ""))
    if pin.get("transport") == "streamable-http":
        server["remotes"] = [{"type": "streamable-http", "url": target}]
    elif (package := _package(target)) is not None:
        server["packages"] = [package]
    server["_meta"] = {OURS: {"tools": names, "transport": pin.get("transport"), "target": target}}
    live = [t for t, _ in tools if t.tool.enabled and t.tool.status is not Status.disabled]
    updated = latest[0].updated_at
    meta = {
        "status": "active" if live else "deprecated",
        "publishedAt": _iso(min(t.created_at for t, _ in tools)),
        "updatedAt": _iso(updated),
        "isLatest": True,
    }
    return RegistryServer(name, version, updated, {"server": server, "_meta": {OFFICIAL: meta}})


def registry_servers(entries: Mapping[str, CachedTool], namespace: str) -> list[RegistryServer]:
    """Every MCP server tools were imported from, by registry name."""
    grouped: dict[str, list[tuple[CachedTool, dict[str, Any]]]] = {}
    for cached in entries.values():
        pin = pin_of(cached.tool.metadata)
        if pin is None or pin.get("kind") != "mcp":
            continue
        grouped.setdefault(registry_name(str(pin["server"]), namespace), []).append((cached, pin))
    return [_entry(name, tools) for name, tools in sorted(grouped.items())]
