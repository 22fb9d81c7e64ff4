"""`toolcatalog select`: ask the Stage B selector, one request or a JSONL batch, against the
database (default) or a catalog folder (`--catalog DIR`, no database needed)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolcatalog.cli import output
from toolcatalog.cli.running import EXIT_INVALID, EXIT_USAGE, cli_settings, command_runtime
from toolcatalog.config import Settings
from toolcatalog.errors import CatalogError
from toolcatalog.model.tool import Platform
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import Candidate, Mode, SelectionRequest, SelectionResult
from toolcatalog.selection.process import SelectionProcess
from toolcatalog.selection.selector import Selector

Ask = Callable[[SelectionRequest], Awaitable[SelectionResult]]
BATCH_FIELDS = frozenset({"query", "platform", "prefer", "environment", "top_k", "explain"})


def build_request(
    query: str,
    *,
    platform: str | None = None,
    prefer: str | None = None,
    environment: str | None = None,
    top_k: int = 5,
    explain: bool = False,
    patterns: str = "best",
) -> SelectionRequest:
    """A SelectionRequest from the command's options (or a batch line's fields); raises
    pydantic's ValidationError for values it refuses."""
    return SelectionRequest.model_validate(
        {
            "request": query,
            "constraints": {"platform": platform, "environment": environment},
            "preferences": {"mode": prefer} if prefer else None,
            "top_k": top_k,
            "explain": explain,
            "patterns": patterns,
        }
    )


def batch_request(line: str, top_k: int, explain: bool) -> SelectionRequest:
    """One batch line: a JSON object with `query` and optional `platform`, `prefer`,
    `environment` (and `top_k`, `explain`), or a whole `POST /api/v1/select` body (with
    `request`); raises ValueError saying what is wrong."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "request" in data and "query" not in data:
        try:
            return SelectionRequest.model_validate({"top_k": top_k, "explain": explain} | data)
        except ValidationError as exc:
            raise ValueError(_validation_message(exc)) from None
    unknown = sorted(set(data) - BATCH_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("'query' must be a non-empty string")
    try:
        return build_request(
            query,
            platform=data.get("platform"),
            prefer=data.get("prefer"),
            environment=data.get("environment"),
            top_k=data.get("top_k", top_k),
            explain=data.get("explain", explain),
        )
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


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


def _flags(c: Candidate) -> list[str]:
    flags = [c.effect.value, c.role.replace("_", " ")]
    if not c.policy.production_safe:
        flags.append("not prod-safe")
    flags.append(f"{c.sla}, run in background" if c.execution == "background" else c.sla)
    return flags


def render(result: SelectionResult, request: SelectionRequest) -> None:
    """The decision, the runners-up with estimates, flags and reasons, and how it was chosen."""
    out = output.out
    decision = result.decision
    if result.intent is not None:
        out.print(f"[dim]{result.intent.evidence}[/]", highlight=False)
    if decision is None:
        out.print(f"[bold]No decision[/]: {result.reason}", highlight=False)
    else:
        # Execution and SLA are often the same word ("background"): say it once.
        words = (decision.effect.value, result.execution, result.sla)
        how = ", ".join(dict.fromkeys(w for w in words if w))
        out.print(
            f"[bold green]{decision.tool}[/] · {decision.capability} · {decision.pattern}  ({how})",
            highlight=False,
        )
        outcome = decision.policy_outcome.value.replace("_", " ")
        style = "green" if decision.policy_outcome == "allowed" else "bold yellow"
        approval = f": {decision.approval}" if decision.approval else ""
        out.print(f"[{style}]{outcome}[/]{approval} ({decision.policy_rule})", highlight=False)
        run = decision.run
        if run is not None:
            how = run.command if run.command else f"{run.method or ''} {run.url or ''}".strip()
            out.print(f"run: {how}", highlight=False, markup=False)
        if decision.inputs:
            given = ", ".join(f"{k}={v}" for k, v in decision.inputs.items())
            out.print(f"inputs: {given}", highlight=False, markup=False)
    for warning in result.warnings:
        out.print(f"[yellow]warning[/]: {warning}", highlight=False)
    table = Table(show_lines=False, header_style="bold")
    columns = ("#", "tool", "capability · pattern", "policy", "score", "rel", "time", "cost")
    for column in (*columns, "flags"):
        table.add_column(column, overflow="fold")
    for n, c in enumerate(result.candidates, start=1):
        time_ms = "?" if c.estimates.time_ms is None else f"{c.estimates.time_ms:g} ms"
        cost = "?" if c.estimates.cost is None else f"{c.estimates.cost:g}"
        table.add_row(
            str(n),
            c.tool,
            f"{c.capability} · {c.pattern}",
            c.policy_outcome.value.replace("_", " "),
            f"{c.score:.3f}",
            f"{c.relevance:.2f}",
            time_ms,
            cost,
            ", ".join(_flags(c)),
        )
    if result.candidates:
        out.print(table)
        for n, c in enumerate(result.candidates, start=1):
            out.print(f"{n}. {c.tool}: " + "; ".join(c.reasons), highlight=False)
    prefs = result.preferences_used
    tie = result.tie_break
    mode = prefs.mode.value if prefs.mode else "custom weights"
    tie_text = f"tie settled by {tie.method}" if tie.used else "no tie"
    out.print(
        f"preferences: {mode} ({prefs.source}) · {tie_text} · retrieval {result.retrieval} · "
        f"catalog v{result.catalog_version} · {result.elapsed_ms:g} ms",
        highlight=False,
    )
    if tie.used and tie.justification:
        out.print(f"tie-break: {tie.justification}", highlight=False)
    if request.explain and result.excluded:
        excluded = Table(title="excluded", header_style="bold")
        for column in ("tool", "capability · pattern", "why"):
            excluded.add_column(column, overflow="fold")
        for e in result.excluded:
            where = f"{e.capability} · {e.pattern}" if e.pattern else "(whole tool)"
            excluded.add_row(e.tool, where, "; ".join(e.reasons))
        out.print(excluded)


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
        try:  # refused at once (an empty request, say), before any catalog or model is loaded
            request = build_request(
                query,
                platform=platform.value if platform else None,
                prefer=prefer.value if prefer else None,
                environment=env,
                top_k=top,
                explain=explain,
                patterns="all" if all_patterns else "best",
            )
        except ValidationError as exc:
            output.err.print(f"error: {_validation_message(exc)}", highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
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

    try:
        failed = asyncio.run(_with_selector(settings, catalog, go, progress))
    except CatalogError as exc:
        output.report_error(exc)
        raise typer.Exit(EXIT_INVALID) from None
    except ValidationError as exc:
        output.err.print(f"error: {_validation_message(exc)}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    if failed:
        raise typer.Exit(EXIT_INVALID)


# With semantic retrieval (the default), a select waits until the tool embeddings are in (they
# are cached under TOOLCATALOG_HOME after the first run; the 203-tool starter catalog takes
# ~6 s, 6,608 tools about a minute), with a progress bar on stderr after SEMANTIC_NOTICE_S.
# It answers lexically only when they cannot be had (model missing, embedding failed), and
# says so. The clauses of example-less tools' descriptions are embedded after the rest
# (selection/semantic.py); a server answers without them meanwhile, but a command is one
# process: it waits for them too (the bar counts both), so its answers are the ones a settled
# server gives and a `--batch` never changes index halfway. TOOLCATALOG_SEMANTIC=false
# selects lexically at once.
SEMANTIC_NOTICE_S = 0.5
SEMANTIC_POLL_S = 0.2


async def _with_selector(
    settings: Settings,
    catalog: Path | None,
    go: Callable[[Ask], Awaitable[int]],
    progress: bool = True,
) -> int:
    if catalog is not None:
        selector = Selector(FolderSource(catalog, cache_dir=settings.home / "cache"), settings)
        try:
            return await _asking(selector, go, progress)
        finally:
            # The description clauses may still be coming: their thread stops at its next
            # step and saves what it embedded, rather than die at exit inside the encoder
            # (interpreter finalisation can hang there), as a runtime's close does.
            await selector.close()
    async with command_runtime(settings) as runtime:
        return await _asking(runtime.selector, go, progress)


async def _asking(
    selector: Selector | SelectionProcess,
    go: Callable[[Ask], Awaitable[int]],
    progress: bool = True,
) -> int:
    if selector.settings.semantic and not await _semantic_ready(selector, progress):
        output.err.print(
            f"semantic retrieval not used ({selector.semantic_status}); answering lexically",
            highlight=False,
        )
    elif selector.settings.semantic and (status := selector.semantic_status) != "ready":
        output.err.print(  # the clauses could not be embedded (the whole texts are in)
            f"semantic retrieval {status}; answering without the description clauses",
            highlight=False,
        )
    return await go(selector.aselect)


async def _semantic_ready(selector: Selector | SelectionProcess, progress: bool) -> bool:
    waiting = asyncio.ensure_future(selector.await_semantic())
    try:
        done, _ = await asyncio.wait({waiting}, timeout=SEMANTIC_NOTICE_S)
        if done:
            return waiting.result()
        where = selector.settings.home / "embeddings"
        if not any(where.glob("*.npz")):  # the first run; later ones only load the cache
            output.err.print(
                f"computing the tool embeddings (once: cached under {where}; "
                "TOOLCATALOG_SEMANTIC=false selects lexically without them)",
                highlight=False,
            )
        if not progress:
            return await waiting
        with Progress(
            TextColumn("embedding tool texts"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=output.err,
            transient=True,
        ) as bar:
            task = bar.add_task("embed", total=None)
            while not waiting.done():
                counts = selector.semantic_progress
                if counts is not None:
                    bar.update(
                        task,
                        completed=counts.embedded + counts.clauses_embedded,
                        total=counts.texts + counts.clauses,
                    )
                await asyncio.wait({waiting}, timeout=SEMANTIC_POLL_S)
        return waiting.result()
    finally:
        waiting.cancel()
