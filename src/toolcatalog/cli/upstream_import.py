"""`toolcatalog import --format mcp|openapi`: a live MCP server or an OpenAPI spec into the
catalog, pinned, with drift reported (exit 1) rather than applied unless --accept-drift."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import typer

from toolcatalog.catalog.upstream import UpstreamImport, import_upstream
from toolcatalog.catalog.writes import Actor
from toolcatalog.cli import output
from toolcatalog.cli.running import EXIT_INVALID, cli_settings, command_runtime
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.openapi import Grouping

MAX_DIFF_LINES = 20


def run_upstream_import(
    fmt: Literal["mcp", "openapi"],
    sources: list[str],
    *,
    dry_run: bool,
    overwrite: bool,
    skip_invalid: bool,
    accept_drift: bool,
    group: Grouping,
    as_json: bool,
) -> None:
    async def go() -> UpstreamImport:
        if len(sources) != 1:
            what = "stdio:<command line> or a URL" if fmt == "mcp" else "a file or URL"
            raise InvalidDefinition(
                f"--format {fmt} takes one source", [Problem("source", f"give {what}")]
            )
        settings = cli_settings()
        async with command_runtime(settings) as runtime:
            return await import_upstream(
                runtime.catalog,
                fmt,
                sources[0],
                actor=Actor("cli"),
                timeout_s=settings.import_upstream_timeout_s,
                max_tools=settings.import_max_tools,
                dry_run=dry_run,
                overwrite=overwrite,
                skip_invalid=skip_invalid,
                accept_drift=accept_drift,
                group=group,
            )

    done = asyncio.run(go())
    held = done.report.held if done.report is not None else []
    if as_json:
        output.print_json(done.as_json())
    else:
        _print(done)
    if done.report is None or done.upstream.problems or held:
        raise typer.Exit(EXIT_INVALID)


def _say(text: str) -> None:
    output.err.print(text, highlight=False, markup=False)


def _print(done: UpstreamImport) -> None:
    upstream, report = done.upstream, done.report
    source = upstream.source
    _say(f"{source.kind} {source.server} {source.version or ''} ({source.transport}: "
         f"{source.target}): {len(upstream.tools)} tool(s) read")  # fmt: skip
    for problem in upstream.problems:
        _say(f"refused: {problem}")
    for old, new in upstream.renamed.items():
        _say(f"note: {old} imported as {new} (the name is taken in this catalog)")
    for note in upstream.notes:
        _say(f"note: {note}")
    for name, tools in upstream.proposed.items():
        _say(f"proposed capability: {name} (not in the vocabulary; used by {', '.join(tools)})")
    if report is None:
        _say(f"error: {len(upstream.problems)} problem(s); nothing was imported "
             "(--skip-invalid imports the rest)")  # fmt: skip
        return
    for drift in report.drifted:
        verb = "accepted" if drift.accepted else "held (--accept-drift to take it)"
        _say(f"drifted: {drift.name} ({drift.upstream}) changed upstream since pinned: {verb}")
        for change in drift.diff[:MAX_DIFF_LINES]:
            before = json.dumps(change.get("from"), ensure_ascii=False)[:200]
            after = json.dumps(change.get("to"), ensure_ascii=False)[:200]
            _say(f"  {change['op']} {change['path']}: {before} -> {after}")
        if len(drift.diff) > MAX_DIFF_LINES:
            _say(f"  ... {len(drift.diff) - MAX_DIFF_LINES} more change(s) (--json lists all)")
    prefix = "dry run: would have " if report.dry_run else ""
    output.out.print(
        f"{prefix}created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, skipped {len(report.skipped)}, "
        f"drifted {len(report.drifted)} ({len(report.held)} held), "
        f"invalid {len(upstream.problems)}",
        highlight=False,
    )
