"""Stage 4, decide: settle a tie between the top candidates (the LLM's choice when one was
asked, else the deterministic order), then the decision, or None with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from toolcatalog.selection.candidates import Enumeration, Scored
from toolcatalog.selection.explain import exclusion_summary
from toolcatalog.selection.inputs import run_inputs
from toolcatalog.selection.models import Decision, SelectionRequest, TieBreak
from toolcatalog.selection.tiebreak import TiedCandidate, TieOutcome

MAX_TIED = 4


@dataclass(slots=True)
class Decided:
    ranked: list[Scored]  # the candidates in their final order
    decision: Decision | None
    reason: str | None  # why there is no decision
    tie: TieBreak


def is_tied(found: Enumeration, margin: float) -> bool:
    ranked = found.ranked
    return found.decidable and len(ranked) >= 2 and ranked[0].score - ranked[1].score <= margin


def tied_group(found: Enumeration, margin: float) -> list[Scored]:
    top = found.ranked[0].score
    return [s for s in found.ranked[:MAX_TIED] if top - s.score <= margin]


def tied_candidates(found: Enumeration, margin: float) -> list[TiedCandidate]:
    """The tied group as the LLM tie-break sees it."""
    return [
        TiedCandidate(
            tool=s.entry.tool.name,
            capability=s.entry.capability.name,
            pattern=s.entry.pattern.name,
            description=s.entry.pattern.description,
            time_ms=s.estimate.time_ms,
            cost=s.estimate.cost,
            accuracy=s.entry.pattern.profile.accuracy,
            completeness=s.entry.pattern.profile.completeness,
            complexity=s.entry.pattern.profile.complexity,
            production_safe=s.entry.pattern.policy.production_safe,
        )
        for s in tied_group(found, margin)
    ]


def decide(
    request: SelectionRequest, found: Enumeration, outcome: TieOutcome | None, margin: float
) -> Decided:
    ranked = list(found.ranked)
    tie = TieBreak(used=False, method="none")
    if is_tied(found, margin):
        group = tied_group(found, margin)
        if outcome is None:
            outcome = TieOutcome(
                None, "deterministic", "tie within the margin; no LLM is configured"
            )
        if outcome.choice is not None:
            chosen = group[outcome.choice]
            ranked.remove(chosen)
            ranked.insert(0, chosen)
        tie = TieBreak(
            used=True,
            method=outcome.method,
            justification=outcome.justification,
            tied=[s.entry.tool.name for s in group],
            llm_skipped=outcome.asked == "skipped",
        )
    if not found.relevant:
        return Decided(ranked, None, f"no tool in the catalog handles {request.request!r}", tie)
    if not found.decidable:
        return Decided(ranked, None, "no allowed tool: " + exclusion_summary(found), tie)
    top = ranked[0]
    decision = Decision(
        tool=top.entry.tool.name,
        capability=top.entry.capability.name,
        pattern=top.entry.pattern.name,
        run=top.entry.tool.execution_for(top.entry.pattern),
        inputs=run_inputs(top.entry.pattern, request.inputs, _entities(request)),
    )
    return Decided(ranked, decision, None, tie)


def _entities(request: SelectionRequest) -> list[tuple[str, str, float]]:
    stage_a = request.classification
    if stage_a is None:
        return []
    return [(e.type, e.value, e.confidence) for e in stage_a.entities]
