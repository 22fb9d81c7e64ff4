"""Short text renderings of the MCP tools' answers, for the model that reads `content`
beside the structured content (which carries everything)."""

from __future__ import annotations

from toolcatalog.model.tool import Tool
from toolcatalog.selection.models import Candidate, SelectionResult


def _where(c: Candidate) -> str:
    return f"{c.tool} / {c.capability} / {c.pattern}"


def render_selection(result: SelectionResult, *, alternatives: int = 3) -> str:
    """The decision (or why none) and the first alternatives with their first reasons."""
    lines: list[str] = []
    if result.decision is None:
        lines.append(f"No tool fits: {result.reason or 'no candidate passed'}")
    else:
        d = result.decision
        lines.append(
            f"Decision: {d.tool} / {d.capability} / {d.pattern} "
            f"(effect {d.effect}, policy {d.policy_outcome}"
            + (f", approval: {d.approval}" if d.approval else "")
            + f"; execution {result.execution}, SLA {result.sla})"
        )
    for i, c in enumerate(result.candidates[:alternatives], start=1):
        est = c.estimates
        time_ms = "?" if est.time_ms is None else f"{est.time_ms:g} ms"
        cost = "?" if est.cost is None else f"{est.cost:g}"
        why = "; ".join(c.reasons[:2])
        lines.append(
            f"{i}. {_where(c)} score {c.score:.3f} (relevance {c.relevance:.2f}), "
            f"est {time_ms}, cost {cost}" + (f" - {why}" if why else "")
        )
    lines.extend(f"warning: {w}" for w in result.warnings)
    if result.selection_id is not None:
        lines.append(f"selection_id: {result.selection_id} (name it in feedback and telemetry)")
    return "\n".join(lines)


def one_line(text: str, limit: int = 160) -> str:
    """The first line of a description, cut at `limit` characters."""
    first = " ".join(text.split("\n", 1)[0].split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def render_tool(tool: Tool) -> str:
    """A tool's name, summary and its capabilities with their patterns."""
    lines = [f"{tool.name} ({tool.platform.value}, {tool.category}): {one_line(tool.description)}"]
    for cap in tool.capabilities:
        patterns = ", ".join(p.name for p in cap.patterns)
        lines.append(f"- {cap.name}: {one_line(cap.description)} [patterns: {patterns}]")
    return "\n".join(lines)
