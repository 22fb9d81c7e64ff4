"""The Stage B selector: request in, the (tool, capability, pattern) to run out, with estimates,
policy flags, reasons and how a tie was settled. Deterministic for a snapshot and a request
(the LLM tie-break aside), and rebuilt on the first request after a new catalog generation."""

from __future__ import annotations

import asyncio
import threading
import time

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.candidates import CandidateEnumerator, Enumeration, Scored
from toolcatalog.selection.features import PatternEstimate
from toolcatalog.selection.loader import ProfileLoader, SnapshotSource
from toolcatalog.selection.models import (
    Candidate,
    Decision,
    Estimates,
    Features,
    PolicyFlags,
    PreferencesUsed,
    SelectionRequest,
    SelectionResult,
    TieBreak,
)
from toolcatalog.selection.retrieval import CatalogIndex, snapshot_key
from toolcatalog.selection.scoring import resolve_preferences
from toolcatalog.selection.tiebreak import TiedCandidate, TieOutcome, break_tie

MAX_TIED = 4


class Selector:
    """`select` (sync) and `aselect` (async) over a ProfileLoader or any SnapshotSource."""

    def __init__(
        self, source: ProfileLoader | SnapshotSource, settings: Settings | None = None
    ) -> None:
        self.loader = source if isinstance(source, ProfileLoader) else ProfileLoader(source=source)
        self.settings = settings if settings is not None else Settings()
        self._enumerator: CandidateEnumerator | None = None
        self._lock = threading.Lock()

    def enumerator_for(self, snapshot: CatalogSnapshot) -> CandidateEnumerator:
        """The enumerator over `snapshot`'s index, rebuilt only when the snapshot changed."""
        current = self._enumerator
        if current is not None and current.index.key == snapshot_key(snapshot):
            return current
        with self._lock:
            current = self._enumerator
            if current is None or current.index.key != snapshot_key(snapshot):
                current = self._enumerator = CandidateEnumerator(CatalogIndex(snapshot))
            return current

    def select(self, request: SelectionRequest) -> SelectionResult:
        """Sync select. With an LLM configured, a tie is sent to it only outside a running event
        loop (inside one, use `aselect`)."""
        started = time.perf_counter()
        enumerator = self.enumerator_for(self.loader.snapshot())
        prefs, found = self._rank(enumerator, request)
        outcome = None
        if self._tied(found) and self.settings.llm_url:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                outcome = asyncio.run(self._ask(request, found))
            else:
                why = "sync select inside an event loop does not call the LLM; use aselect"
                outcome = TieOutcome(None, "deterministic", why)
        return self._result(enumerator, request, prefs, found, outcome, started)

    async def aselect(self, request: SelectionRequest) -> SelectionResult:
        started = time.perf_counter()
        enumerator = self.enumerator_for(await self.loader.asnapshot())
        prefs, found = self._rank(enumerator, request)
        outcome = None
        if self._tied(found) and self.settings.llm_url:
            outcome = await self._ask(request, found)
        return self._result(enumerator, request, prefs, found, outcome, started)

    def _rank(
        self, enumerator: CandidateEnumerator, request: SelectionRequest
    ) -> tuple[PreferencesUsed, Enumeration]:
        prefs = resolve_preferences(request)
        return prefs, enumerator.enumerate(request, prefs.weights)

    def _tied(self, found: Enumeration) -> bool:
        ranked = found.ranked
        return (
            found.decidable
            and len(ranked) >= 2
            and ranked[0].score - ranked[1].score <= self.settings.tie_margin
        )

    def _tied_group(self, found: Enumeration) -> list[Scored]:
        top = found.ranked[0].score
        margin = self.settings.tie_margin
        return [s for s in found.ranked[:MAX_TIED] if top - s.score <= margin]

    async def _ask(self, request: SelectionRequest, found: Enumeration) -> TieOutcome:
        tied = [
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
            for s in self._tied_group(found)
        ]
        return await break_tie(self.settings, request.request, tied)

    def _result(
        self,
        enumerator: CandidateEnumerator,
        request: SelectionRequest,
        prefs: PreferencesUsed,
        found: Enumeration,
        outcome: TieOutcome | None,
        started: float,
    ) -> SelectionResult:
        ranked = list(found.ranked)
        tie = TieBreak(used=False, method="none")
        if self._tied(found):
            group = self._tied_group(found)
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
            )
        candidates = [self._candidate(s, found, prefs) for s in ranked[: request.top_k]]
        decision, reason, execution, sla = None, None, None, None
        if not found.relevant:
            reason = f"no tool in the catalog handles {request.request!r}"
        elif not found.decidable:
            reason = "no allowed tool: " + _exclusion_summary(found)
        else:
            top = ranked[0]
            decision = Decision(
                tool=top.entry.tool.name,
                capability=top.entry.capability.name,
                pattern=top.entry.pattern.name,
            )
            execution, sla = top.estimate.execution, top.estimate.sla
        return SelectionResult(
            decision=decision,
            reason=reason,
            execution=execution,
            sla=sla,
            candidates=candidates,
            excluded=found.excluded if request.explain else None,
            preferences_used=prefs,
            tie_break=tie,
            catalog_version=enumerator.index.generation,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @staticmethod
    def _candidate(s: Scored, found: Enumeration, prefs: PreferencesUsed) -> Candidate:
        e = s.entry
        matched = found.matched.get(e.tool.name, [])
        reasons = [_relevance_reason(s.relevance, matched), _preference_reason(s, prefs)]
        reasons += _estimate_reasons(s.estimate) + s.reasons
        d = s.dims
        return Candidate(
            tool=e.tool.name,
            capability=e.capability.name,
            pattern=e.pattern.name,
            score=round(s.score, 6),
            relevance=round(s.relevance, 6),
            features=Features(
                relevance=round(s.relevance, 6),
                speed=round(d.speed, 6),
                cost=round(d.cost, 6),
                complexity=round(d.complexity, 6),
                accuracy=d.accuracy,
                completeness=d.completeness,
                utility=round(s.utility, 6),
            ),
            estimates=Estimates(time_ms=s.estimate.time_ms, cost=s.estimate.cost),
            policy=PolicyFlags(
                production_safe=e.pattern.policy.production_safe,
                requires_approval=s.requires_approval,
            ),
            execution=s.estimate.execution,
            sla=s.estimate.sla,
            reasons=reasons,
        )


def _relevance_reason(relevance: float, matched: list[str]) -> str:
    words = ", ".join(t for t in matched if not t.startswith("<"))[:120]
    return f"relevance {relevance:.2f}" + (f": matches {words}" if words else "")


def _preference_reason(s: Scored, prefs: PreferencesUsed) -> str:
    mode = prefs.mode.value if prefs.mode else "custom weights"
    return f"{mode} preference ({prefs.source}): utility {s.utility:.2f}"


def _estimate_reasons(estimate: PatternEstimate) -> list[str]:
    time_ms = "unknown" if estimate.time_ms is None else f"{estimate.time_ms:g} ms"
    out = [f"estimated {time_ms}, {estimate.sla} SLA"]
    if estimate.background:
        out.append("run in the background (long, or requires_background_if holds)")
    return out


def _exclusion_summary(found: Enumeration) -> str:
    seen: dict[str, str] = {}
    for ex in found.excluded:
        seen.setdefault(ex.tool, ex.reasons[0])
    parts = [f"{tool} ({why})" for tool, why in list(seen.items())[:5]]
    if not parts:
        return "the allowed tools are far less relevant than the best match"
    return "the relevant tools were excluded by policy: " + "; ".join(parts)
