"""Reading an import's upstream: a live MCP server (a stdio command started for the read, or a
Streamable HTTP URL) through the official SDK's client, or an OpenAPI spec (file, URL or
text), then converting it (formats.mcp_tools, formats.openapi) and giving the tools the names
they keep in this catalog (formats.upstream.place_names)."""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import httpx

from toolcatalog.catalog.imports import ImportReport
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import InvalidDefinition, Problem, UpstreamUnavailable
from toolcatalog.formats.definitions import MAX_FILE_BYTES, parse_text, read_definition_file
from toolcatalog.formats.mcp_tools import tools_from_mcp
from toolcatalog.formats.openapi import Grouping, spec_source, tools_from_openapi
from toolcatalog.formats.upstream import UpstreamResult, UpstreamSource, place_names
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary

UpstreamFormat = Literal["mcp", "openapi"]
MAX_PAGES = 1_000


def mcp_source(text: str) -> tuple[Literal["stdio", "streamable-http"], str]:
    """`stdio:<command line>` or an http(s) URL; InvalidDefinition for anything else."""
    if text.startswith("stdio:"):
        command = text[len("stdio:") :].strip()
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise InvalidDefinition(
                "the stdio command line does not parse", [Problem("source", str(exc))]
            ) from None
        if not words:
            raise InvalidDefinition(
                "stdio: needs a command", [Problem("source", "write stdio:<command line>")]
            )
        return "stdio", command
    if text.startswith(("http://", "https://")):
        return "streamable-http", web_url(text)
    raise InvalidDefinition(
        f"{text!r} is not an MCP server",
        [
            Problem(
                "source", "give stdio:<command line> or an http(s) URL of a Streamable HTTP server"
            )
        ],
    )


def web_url(text: str) -> str:
    """An http(s) URL with a host; InvalidDefinition naming what is missing."""
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise InvalidDefinition(
            f"{text!r} is not a usable URL", [Problem("url", "write http(s)://host[:port]/path")]
        )
    return text


async def read_mcp_tools(
    text: str, *, timeout_s: float, max_tools: int
) -> tuple[UpstreamSource, list[dict[str, Any]]]:
    """Connect, read every page of tools/list and disconnect (a stdio server is stopped).
    UpstreamUnavailable when the server cannot be reached or answers wrongly in time."""
    from mcp import Client, StdioServerParameters  # the SDK costs ~0.3 s to import

    transport, target = mcp_source(text)
    server: Any = target
    if transport == "stdio":
        words = shlex.split(target)
        server = StdioServerParameters(command=words[0], args=words[1:])
    listing: list[dict[str, Any]] = []
    try:
        with anyio.fail_after(timeout_s):
            async with Client(server, read_timeout_seconds=timeout_s, cache=None) as client:
                info = client.server_info
                cursor: str | None = None
                for _ in range(MAX_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    listing += [
                        t.model_dump(mode="json", by_alias=True, exclude_none=True)
                        for t in page.tools
                    ]
                    cursor = page.next_cursor
                    if cursor is None or len(listing) > max_tools:
                        break
    except TimeoutError:
        raise UpstreamUnavailable(
            f"the MCP server {target!r} did not list its tools within {timeout_s:g} s"
        ) from None
    except Exception as exc:  # the SDK raises many kinds, groups included: report one line
        raise UpstreamUnavailable(
            f"cannot read the MCP server {target!r}: {_reason(exc)}"
        ) from None
    if len(listing) > max_tools:
        raise InvalidDefinition(
            f"the MCP server lists more than {max_tools} tools",
            [Problem("source", f"at most {max_tools} tools per import")],
        )
    name = (info.name if info is not None else "") or target
    version = info.version if info is not None else None
    return UpstreamSource("mcp", name, transport, target, version or None), listing


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}".strip(": ")[:300]


async def read_openapi_spec(text: str, *, timeout_s: float) -> tuple[UpstreamSource, Any]:
    """An OpenAPI document from a file path or an http(s) URL (YAML or JSON)."""
    if text.startswith(("http://", "https://")):
        web_url(text)
        try:
            async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as http:
                answer = await http.get(text, headers={"Accept": "application/json, */*"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"cannot fetch {text}: {_reason(exc)}") from None
        if answer.status_code != 200:
            raise UpstreamUnavailable(f"{text} answered {answer.status_code}")
        if len(answer.content) > MAX_FILE_BYTES:
            raise InvalidDefinition(
                f"{text} is too large", [Problem("", f"over {MAX_FILE_BYTES} bytes", text)]
            )
        body = answer.text
        suffix = ".json" if body.lstrip().startswith("{") else ".yaml"
        data = await anyio.to_thread.run_sync(parse_text, body, text, suffix)
        return spec_source(data, "url", text), data
    path = Path(text)
    body = await anyio.to_thread.run_sync(read_definition_file, path)
    suffix = ".json" if path.suffix.lower() == ".json" else ".yaml"
    data = await anyio.to_thread.run_sync(parse_text, body, text, suffix)
    return spec_source(data, "file", str(path)), data


def spec_from_text(body: str) -> tuple[UpstreamSource, Any]:
    """An OpenAPI document given inline (the API's `spec`)."""
    suffix = ".json" if body.lstrip().startswith("{") else ".yaml"
    data = parse_text(body, "spec", suffix)
    return spec_source(data, "inline", "spec"), data


async def read_upstream(
    fmt: UpstreamFormat,
    source: str,
    *,
    vocabulary: Vocabulary | None,
    existing: Mapping[str, Tool],
    timeout_s: float,
    max_tools: int,
    group: Grouping = "spec",
    spec_text: str | None = None,
) -> UpstreamResult:
    """Read and convert an upstream, naming its tools against the `existing` catalog."""
    if fmt == "mcp":
        origin, listing = await read_mcp_tools(source, timeout_s=timeout_s, max_tools=max_tools)
        result = tools_from_mcp(origin, listing, vocabulary)
    else:
        if spec_text is not None:
            origin, spec = await anyio.to_thread.run_sync(spec_from_text, spec_text)
        else:
            origin, spec = await read_openapi_spec(source, timeout_s=timeout_s)
        result = await anyio.to_thread.run_sync(
            lambda: tools_from_openapi(spec, origin, vocabulary, group=group)
        )
    result.tools, result.renamed = place_names(result.tools, existing)
    return result


@dataclass
class UpstreamImport:
    """An upstream import's outcome: what was read and converted, and the import report
    (None when some upstream tools were refused and `skip_invalid` was not given: nothing
    was written)."""

    upstream: UpstreamResult
    report: ImportReport | None

    def as_json(self) -> dict[str, Any]:
        source = self.upstream.source
        report = self.report or ImportReport()
        return {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
            "drifted": [d.as_json() for d in report.drifted],
            "invalid": len({p.path.split(".")[0] for p in self.upstream.problems}),
            "problems": [str(p) for p in self.upstream.problems],
            "dry_run": report.dry_run,
            "written": self.report is not None and not report.dry_run,
            "source": {
                "kind": source.kind,
                "server": source.server,
                "version": source.version,
                "transport": source.transport,
                "target": source.target,
            },
            "renamed": self.upstream.renamed,
            "proposed_capabilities": self.upstream.proposed,
            "notes": self.upstream.notes,
        }


async def import_upstream(
    catalog: ToolCatalogService,
    fmt: UpstreamFormat,
    source: str,
    *,
    actor: Actor,
    timeout_s: float,
    max_tools: int,
    dry_run: bool = False,
    overwrite: bool = True,
    skip_invalid: bool = False,
    accept_drift: bool | Collection[str] = False,
    group: Grouping = "spec",
    spec_text: str | None = None,
) -> UpstreamImport:
    """Read, convert and import an upstream in one transaction: all or nothing unless
    `skip_invalid`; drifted tools stay as they are unless accepted (see plan_import)."""
    snapshot = await catalog.get_all_tools_with_structure()
    upstream = await read_upstream(
        fmt,
        source,
        vocabulary=snapshot.vocabulary,
        existing=snapshot.by_name,
        timeout_s=timeout_s,
        max_tools=max_tools,
        group=group,
        spec_text=spec_text,
    )
    if upstream.problems and not skip_invalid:
        return UpstreamImport(upstream, None)
    report = await catalog.import_definitions(
        upstream.tools,
        actor=actor,
        overwrite=overwrite,
        dry_run=dry_run,
        accept_drift=accept_drift,
    )
    return UpstreamImport(upstream, report)
