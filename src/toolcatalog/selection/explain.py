"""Stage 5, explain: each reported candidate with its features, estimates, policy flags and
the reasons a person reads (relevance and the words it matched, the preference, estimates)."""

from __future__ import annotations

from toolcatalog.selection.candidates import Enumeration, Scored
from toolcatalog.selection.features import PatternEstimate
from toolcatalog.selection.models import (
    Candidate,
    Estimates,
    Features,
    PolicyFlags,
    PreferencesUsed,
)


def shown_relevance(s: Scored) -> float:
    """The relevance a caller sees: absolute (calibrated) with embeddings, else the lexical
    share of the most relevant candidate's text score."""
    return s.relevance if s.confidence is None else s.confidence


def shown_score(s: Scored) -> float:
    """The score a caller sees, on the scale of the shown relevance: that relevance lowered
    as the ranking score lowers the fused one for preferences (score = relevance x
    ((1 - A) + A x utility x rel^2), scoring.py), so never above it. The ranking score itself
    is relative to the request's most relevant tool ("order me a pizza" ranked vault 0.97
    beside an absolute relevance of 0.04); this one can be thresholded like relevance (0.5:
    where the selector starts refusing). Lexical only, both are the ranking's own."""
    if s.confidence is None:
        return s.score
    return s.confidence * s.score / s.relevance if s.relevance > 0 else 0.0


def candidate(s: Scored, found: Enumeration, prefs: PreferencesUsed) -> Candidate:
    e = s.entry
    matched = found.matched.get(e.tool.name, [])
    relevance = shown_relevance(s)
    reasons = [relevance_reason(relevance, matched), preference_reason(s, prefs)]
    reasons += estimate_reasons(s.estimate) + s.reasons
    evidence = found.learned.get(e.tool.name)
    if evidence is not None:
        reasons.append(learned_reason(evidence))
    d = s.dims
    return Candidate(
        tool=e.tool.name,
        capability=e.capability.name,
        pattern=e.pattern.name,
        score=round(shown_score(s), 6),
        relevance=round(relevance, 6),
        features=Features(
            relevance=round(s.relevance, 6),
            speed=round(d.speed, 6),
            cost=round(d.cost, 6),
            complexity=round(d.complexity, 6),
            accuracy=d.accuracy,
            completeness=d.completeness,
            utility=round(s.utility, 6),
        ),
        estimates=estimates(s.estimate),
        policy=PolicyFlags(
            production_safe=e.pattern.policy.production_safe,
            requires_approval=s.requires_approval,
        ),
        effect=e.pattern.effect,
        role=s.role,
        policy_outcome=s.verdict.outcome,
        policy_rule=s.verdict.rule,
        approval=s.verdict.approval,
        execution=s.estimate.execution,
        sla=s.estimate.sla,
        reasons=reasons,
    )


def learned_reason(evidence: float) -> str:
    if evidence > 0:
        return f"feedback: callers used it for requests like this one (evidence {evidence:.2f})"
    return f"feedback: callers rejected it for requests like this one (evidence {evidence:.2f})"


def role_reason(s: Scored, found: Enumeration) -> str:
    """What the candidate is for this request's intent (the intent itself is `intent`)."""
    effect, reading = s.entry.pattern.effect.value, found.intent
    asked = reading.action or "change something"
    if not s.entry.pattern.effect_declared:
        what = "looks" if reading.kind == "read" else f"may {asked}"
        return f"{effect} inferred from its policy (not declared): {what}; intent not checked"
    return {
        "action": f"{effect}: performs the change asked for ({asked})",
        "helper": f"read-only helper: looks, does not {asked}; never the decision",
        "other_change": f"{effect}, but does not {asked}; never the decision",
        "answer": "read: looks, as the request asks",
        "unrequested_change": f"{effect}: the request asks to look; never the decision",
    }[s.role]


def policy_reason(s: Scored) -> str:
    verdict = s.verdict
    text = f"policy: {verdict.outcome.value} ({verdict.rule})"
    return text + (f"; approval: {verdict.approval}" if verdict.approval else "")


def relevance_reason(relevance: float, matched: list[str]) -> str:
    words = ", ".join(t for t in matched if not t.startswith("<"))[:120]
    return f"relevance {relevance:.2f}" + (f": matches {words}" if words else "")


def preference_reason(s: Scored, prefs: PreferencesUsed) -> str:
    """Which of mode and weights decided: weights from the request, or a mode (asked for,
    inferred from the text, or the balanced default)."""
    if prefs.mode is None:
        decided = "preferences.weights from the request decided"
    else:
        decided = f"mode {prefs.mode.value} ({prefs.source}) decided"
    return f"{decided}: utility {s.utility:.2f}"


def estimates(e: PatternEstimate) -> Estimates:
    if e.samples == 0:
        return Estimates(time_ms=e.time_ms, cost=e.cost)
    return Estimates(
        time_ms=e.time_ms,
        cost=e.cost,
        source=e.source,
        samples=e.samples,
        declared_time_ms=e.declared_time_ms,
        observed_p50_ms=e.observed_p50_ms,
        observed_p95_ms=e.observed_p95_ms,
        success_rate=e.success_rate,
    )


def estimate_reasons(estimate: PatternEstimate) -> list[str]:
    time_ms = "unknown" if estimate.time_ms is None else f"{estimate.time_ms:g} ms"
    if estimate.source != "declared" and estimate.declared_time_ms is not None:
        time_ms += (
            f" ({estimate.source}: declared {estimate.declared_time_ms:g} ms, observed p50 "
            f"{estimate.observed_p50_ms:g} ms over {estimate.samples} runs)"
        )
    out = [f"estimated {time_ms}, {estimate.sla} SLA"]
    if estimate.background:
        out.append("run in the background (long, or requires_background_if holds)")
    return out


def exclusion_summary(found: Enumeration) -> str:
    seen: dict[str, str] = {}
    for ex in found.excluded:
        seen.setdefault(ex.tool, ex.reasons[0])
    parts = [f"{tool} ({why})" for tool, why in list(seen.items())[:5]]
    if not parts:
        return "the allowed tools are far less relevant than the best match"
    return "the relevant tools were excluded: " + "; ".join(parts)


MAX_LIMIT_NOTES = 3


def over_limit_notes(found: Enumeration) -> list[str]:
    """Patterns of the pooled tools (most relevant first) that the request's inputs pushed
    past their own max_execution_time_ms: without this line a caller sees only that a less
    relevant pattern won."""
    out = []
    for ex in found.excluded:
        over = [r for r in ex.reasons if "max_execution_time_ms" in r]
        if ex.pattern is not None and over:
            out.append(f"{ex.tool}.{ex.pattern} excluded with these inputs: {over[0]}")
    return out[:MAX_LIMIT_NOTES]


MAX_SIBLINGS = 6


def sibling_reasons(top: Scored, found: Enumeration, prefs: PreferencesUsed) -> list[str]:
    """The decided tool's other patterns and why each lost: its text fits the request less
    (lower relevance), it suits the preference less (lower utility), or policy excluded it.
    Scores are shown as the candidates' are (shown_score)."""
    name = top.entry.tool.name
    out = []
    for other in found.patterns.get(name, [])[1:]:
        why = []
        if other.relevance < top.relevance - 1e-9:
            share = other.relevance / top.relevance
            why.append(f"fits the request less ({share:.0%} of the decided pattern's relevance)")
        if other.utility < top.utility - 1e-9:
            pref = "the weights" if prefs.mode is None else f"mode {prefs.mode.value}"
            why.append(f"suits {pref} less (utility {other.utility:.2f})")
        if not why:
            why.append("scored equal and comes later in the catalog")
        out.append(
            f"other pattern {other.entry.pattern.name} lost with score "
            f"{shown_score(other):.3f}: " + " and ".join(why)
        )
    for ex in found.excluded:
        if ex.tool == name and ex.pattern is not None:
            out.append(f"other pattern {ex.pattern} excluded: {ex.reasons[0]}")
    if len(out) > MAX_SIBLINGS:
        out = [*out[:MAX_SIBLINGS], f"and {len(out) - MAX_SIBLINGS} more pattern(s) of {name}"]
    return out
