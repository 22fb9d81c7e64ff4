"""A selection result as `toolcatalog select` prints it: the decision, the candidates with their
estimates, flags and reasons, and how it was chosen (Rich tables on stdout)."""

from __future__ import annotations

from rich.table import Table

from toolcatalog.cli import output
from toolcatalog.selection.models import Candidate, SelectionRequest, SelectionResult


def _flags(c: Candidate) -> list[str]:
    flags = [c.effect.value, c.role.replace("_", " ")]
    if not c.policy.production_safe:
        flags.append("not prod-safe")
    flags.append(f"{c.sla}, run in background" if c.execution == "background" else c.sla)
    return flags


def render(result: SelectionResult, request: SelectionRequest) -> None:
    """The decision, the runners-up with estimates, flags and reasons, and how it was chosen."""
    _render_decision(result)
    _render_candidates(result)
    _render_how(result, request)


def _render_decision(result: SelectionResult) -> None:
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


def _render_candidates(result: SelectionResult) -> None:
    if not result.candidates:
        return
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
    output.out.print(table)
    for n, c in enumerate(result.candidates, start=1):
        output.out.print(f"{n}. {c.tool}: " + "; ".join(c.reasons), highlight=False)


def _render_how(result: SelectionResult, request: SelectionRequest) -> None:
    """The preferences, tie-break, retrieval and catalog version; with --explain, the
    excluded candidates."""
    out = output.out
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
