"""The answer: from a ranked enumeration to the SelectionResult the doors render (the
decision, its candidates explained, warnings), with every select's metrics and the record
of the answer by its selection_id."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Protocol

from toolcatalog import metrics
from toolcatalog.selection.candidates import CandidateEnumerator, Enumeration
from toolcatalog.selection.checks import decision_warnings, enforce_strict, request_warnings
from toolcatalog.selection.decide import decide
from toolcatalog.selection.experiments import Assignment
from toolcatalog.selection.explain import candidate, over_limit_notes, sibling_reasons
from toolcatalog.selection.models import (
    Decision,
    PreferencesUsed,
    RequestIntent,
    SelectionRequest,
    SelectionResult,
    TieBreak,
)
from toolcatalog.selection.tiebreak import TieOutcome
from toolcatalog.store.selections import SelectionRecord

_DEFAULT = Assignment(None)


class SelectionRecorder(Protocol):
    """Where every answer goes by its selection_id (catalog.selection_log.SelectionLog):
    `record` must not block or raise, it runs on the request path."""

    def record(self, row: SelectionRecord) -> None: ...


def answer(
    enumerator: CandidateEnumerator,
    request: SelectionRequest,
    prefs: PreferencesUsed,
    found: Enumeration,
    outcome: TieOutcome | None,
    started: float,
    margin: float,
    recorder: SelectionRecorder | None = None,
    subject: str | None = None,
    plan: Assignment = _DEFAULT,
) -> SelectionResult:
    """The SelectionResult for `found`: the decision (decide.py, `margin` for ties),
    candidates and reasons explained (explain.py), warnings, metrics, and the answer
    recorded by its selection_id with `recorder`."""
    decided = decide(request, found, outcome, margin)
    shown = decided.ranked[: request.top_k]
    if request.patterns == "all":
        shown = [p for s in shown for p in found.patterns.get(s.entry.tool.name, [s])]
    candidates = [candidate(s, found, prefs) for s in shown]
    declared = enumerator.declared_inputs
    warnings = request_warnings(request, enumerator.index.tool_position, declared)
    execution, sla = None, None
    if decided.decision is not None:
        top = decided.ranked[0]
        execution, sla = top.estimate.execution, top.estimate.sla
        label = f"{decided.decision.tool}.{decided.decision.pattern}"
        warnings += decision_warnings(request, top.entry.pattern, label, declared)
        notes = [found.intent.explain(), *sibling_reasons(top, found, prefs)]
        if request.inputs:
            notes += over_limit_notes(found)
        if notes and candidates:
            candidates[0] = candidates[0].model_copy(
                update={"reasons": candidates[0].reasons + notes}
            )
    enforce_strict(request, warnings)
    _record(decided.decision, decided.tie, outcome, started)
    selection_id = uuid.uuid4()
    if recorder is not None:
        generation = enumerator.index.generation
        recorder.record(
            selection_row(selection_id, request, decided.decision, generation, subject, plan)
        )
    reading = found.intent
    return SelectionResult(
        selection_id=str(selection_id),
        decision=decided.decision,
        reason=decided.reason,
        intent=RequestIntent(
            kind=reading.kind,
            action=reading.action,
            also=list(reading.also),
            source=reading.source,
            evidence=reading.explain(),
        ),
        warnings=warnings,
        execution=execution,
        sla=sla,
        candidates=candidates,
        excluded=found.excluded if request.explain else None,
        preferences_used=prefs,
        tie_break=decided.tie,
        catalog_version=enumerator.index.generation,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        retrieval=found.retrieval,
    )


def selection_row(
    selection_id: uuid.UUID,
    request: SelectionRequest,
    decision: Decision | None,
    generation: int,
    subject: str | None,
    plan: Assignment,
) -> SelectionRecord:
    """The selection log's row of one answer."""
    return SelectionRecord(
        selection_id=selection_id,
        selected_at=datetime.now(UTC),
        request=request.request,
        tool_name=None if decision is None else decision.tool,
        capability=None if decision is None else decision.capability,
        pattern=None if decision is None else decision.pattern,
        catalog_version=generation,
        experiment=plan.experiment,
        variant=plan.variant,
        subject=request.session_id or subject,
    )


def _record(
    decision: Decision | None, tie: TieBreak, outcome: TieOutcome | None, started: float
) -> None:
    """Every select's metrics, whichever door asked (API, CLI, Python)."""
    method = "none" if decision is None else ("llm" if tie.method == "llm" else "deterministic")
    count_selection(method, started)
    if outcome is not None and outcome.asked is not None:
        metrics.SELECTION_TIE_BREAKS.labels(outcome.asked).inc()


def count_selection(method: str, started: float) -> None:
    """One select's duration and decision metrics (`method`: none | deterministic | llm)."""
    metrics.SELECTION_DURATION.observe(time.perf_counter() - started)
    metrics.SELECTION_DECISIONS.labels(method).inc()
