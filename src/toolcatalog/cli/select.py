"""`toolcatalog select`: ask the Stage B selector, one request or a JSONL batch, against the
database (default) or a catalog folder (`--catalog DIR`, no database needed). The requests are
made by selection_requests.py, printed by selection_rendering.py, and asked of the selector
that selector_session.py opens."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer

from toolcatalog.cli import output
from toolcatalog.cli.running import EXIT_INVALID, EXIT_USAGE, cli_settings
from toolcatalog.cli.selection_rendering import render
from toolcatalog.cli.selection_requests import batch_request, build_request
from toolcatalog.cli.selector_session import Ask, with_selector
from toolcatalog.errors import CatalogError
from toolcatalog.model.tool import Platform
from toolcatalog.selection.models import Mode, SelectionRequest


def _lines(source: Path) -> Iterator[tuple[int, str]]:
    stream: TextIO = sys.stdin if str(source) == "-" else source.open(encoding="utf-8")
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin:
            stream.close()


def _dump(data: Any, *, indent: bool) -> None:
    option = orjson.OPT_INDENT_2 if indent else 0
    sys.stdout.write(orjson.dumps(data, option=option).decode() + "\n")
    sys.stdout.flush()


async def _run_batch(ask: Ask, source: Path, top_k: int, explain: bool, as_json: bool) -> int:
    """One output line per non-blank input line, in order; a bad line yields an error object
    (`{"line": n, "error": ...}`) and the rest go on. Returns how many lines failed."""
    failed = 0
    rows: list[list[Any]] = []
    for number, line in _lines(source):
        try:
            request = batch_request(line, top_k, explain)
            result = await ask(request)
        except (ValueError, CatalogError) as exc:
            failed += 1
            detail = exc.detail if isinstance(exc, CatalogError) else str(exc)
            if as_json:
                _dump({"line": number, "error": detail}, indent=False)
            rows.append([number, line.strip()[:60], "error", detail, ""])
            continue
        if as_json:
            _dump(result.model_dump(mode="json"), indent=False)
        decision = result.decision
        picked = f"{decision.tool}.{decision.pattern}" if decision else "none"
        score = f"{result.candidates[0].score:.3f}" if decision and result.candidates else ""
        reason = score or (result.reason or "")
        rows.append([number, request.request[:60], picked, reason, result.retrieval])
    if not as_json:
        output.table(None, ["line", "request", "decision", "score / reason", "retrieval"], rows)
    return failed


def select_command(
    query: Annotated[
        str | None, typer.Argument(help='The request, e.g. "why is / full on db2".')
    ] = None,
    platform: Annotated[
        Platform | None, typer.Option(help="Only tools that can serve this platform.")
    ] = None,
    prefer: Annotated[
        Mode | None, typer.Option(help="Preference mode (default: inferred, else balanced).")
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Environment (production, staging, dev, or one the catalog's "
            "environments.yaml defines); its rules say what runs, needs approval or is refused.",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="Candidates to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also list excluded candidates and why.")
    ] = False,
    all_patterns: Annotated[
        bool,
        typer.Option(
            "--all-patterns", help="List every allowed pattern of the top tools, not the best."
        ),
    ] = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help="JSONL file ('-' for stdin): one object per line with `query` and optional "
            "`platform`, `prefer`, `environment`; one result per line out, in order. A bad "
            'line yields {"line": n, "error": ...} and the rest go on (exit 1 if any).',
        ),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog", help="Select from this catalog folder (YAML), without a database."
        ),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="While the tool embeddings are computed (first run), show a progress bar on "
            "stderr; the select waits for them either way.",
        ),
    ] = True,
) -> None:
    """Pick the tool, capability and pattern for an ops request (Stage B)."""
    if (query is None) == (batch is None):
        output.err.print("error: give a request or --batch FILE (one of them)", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    if catalog is not None and not catalog.is_dir():
        output.err.print(f"error: {catalog} is not a folder", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    request: SelectionRequest | None = None
    if query is not None:
        # Refused at once (an empty request, say), before any catalog or model is loaded.
        request = build_request(
            query,
            platform=platform.value if platform else None,
            prefer=prefer.value if prefer else None,
            environment=env,
            top_k=top,
            explain=explain,
            patterns="all" if all_patterns else "best",
        )
    settings = cli_settings()

    async def go(ask: Ask) -> int:
        if batch is not None:
            return await _run_batch(ask, batch, top, explain, as_json)
        assert request is not None
        result = await ask(request)
        if as_json:
            _dump(result.model_dump(mode="json"), indent=True)
        else:
            render(result, request)
        return 0

    failed = asyncio.run(with_selector(settings, catalog, go, progress))
    if failed:
        raise typer.Exit(EXIT_INVALID)
