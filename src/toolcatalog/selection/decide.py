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
    return found.decidable and found.ranked[0].fits and len(tied_group(found, margin)) >= 2


def tied_group(found: Enumeration, margin: float) -> list[Scored]:
    """The candidates within `margin` of the best; only those that fit the intent, so a tie
    can never hand the decision to a read-only helper or an unrequested change."""
    top = found.ranked[0].score
    return [s for s in found.ranked[:MAX_TIED] if top - s.score <= margin and s.fits]


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
    if not ranked or not ranked[0].fits:
        return Decided(ranked, None, intent_refusal(found), tie)
    if not found.decidable and any(s.relevance > ranked[0].relevance for s in ranked):
        # The most relevant tools do something else than what was asked.
        return Decided(ranked, None, intent_refusal(found), tie)
    if not found.decidable:
        return Decided(ranked, None, "no allowed tool: " + exclusion_summary(found), tie)
    top = ranked[0]
    decision = Decision(
        tool=top.entry.tool.name,
        capability=top.entry.capability.name,
        pattern=top.entry.pattern.name,
        run=top.entry.tool.execution_for(top.entry.pattern),
        inputs=run_inputs(top.entry.pattern, request.inputs, _entities(request)),
        effect=top.entry.pattern.effect,
        policy_outcome=top.verdict.outcome,
        policy_rule=top.verdict.rule,
        approval=top.verdict.approval,
    )
    return Decided(ranked, decision, None, tie)


def _entities(request: SelectionRequest) -> list[tuple[str, str, float]]:
    stage_a = request.classification
    if stage_a is None:
        return []
    return [(e.type, e.value, e.confidence) for e in stage_a.entities]


MAX_REFUSED = 3


def intent_refusal(found: Enumeration) -> str:
    """Why nothing that fits the intent is the decision: the patterns that would have done it
    and the rules that refused them, or that the relevant tools have none."""
    reading = found.intent
    if reading.kind == "change":
        asked = f"the request asks to {reading.action or 'change something'}"
        refused = [
            f"{ex.tool}.{ex.pattern} ({ex.reasons[0]})"
            for ex in found.excluded
            if ex.pattern is not None and ex.effect is not None and ex.effect.changes
        ]
        what = "no pattern that performs it"
    else:
        asked = "the request asks to look, not to change"
        refused = [
            f"{ex.tool}.{ex.pattern} ({ex.reasons[0]})"
            for ex in found.excluded
            if ex.pattern is not None and ex.effect is not None and not ex.effect.changes
        ]
        what = "no read-only pattern"
    if refused:
        return f"{asked}; {what} may run here: refused " + "; ".join(refused[:MAX_REFUSED])
    return f"{asked}; the relevant tools have {what} (their other patterns would substitute)"
