"""The Stage B selector: request in, the (tool, capability, pattern) to run out, with estimates,
policy flags, reasons and how a tie was settled. Deterministic for a snapshot and a request
(the LLM tie-break aside), and rebuilt on the first request after a new catalog generation."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from toolcatalog import metrics
from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.candidates import CandidateEnumerator, Enumeration, Scored
from toolcatalog.selection.embedding import ModelUnavailable
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
from toolcatalog.selection.semantic import (
    SemanticEngine,
    SemanticIndex,
    SemanticView,
    SharedVectors,
)
from toolcatalog.selection.tiebreak import TiedCandidate, TieOutcome, break_tie

MAX_TIED = 4
SEMANTIC_POLL_S = 0.05
log = logging.getLogger(__name__)


class Selector:
    """`select` (sync) and `aselect` (async) over a ProfileLoader or any SnapshotSource.

    With `settings.semantic` (the default) and the model installed, each new catalog index
    gets its tool embeddings computed in a background thread (see semantic.py); selection is
    lexical until they are ready (`wait_for_semantic` waits). Without the model,
    `semantic_status` says why and selection is lexical."""

    def __init__(
        self,
        source: ProfileLoader | SnapshotSource,
        settings: Settings | None = None,
        engine: SemanticEngine | None = None,
        shared: SharedVectors | None = None,
    ) -> None:
        """`engine` replaces the semantic engine `settings.semantic` would make (another
        encoder, another cache folder); `shared` lets that engine share text embeddings with
        other processes (the service passes the database's)."""
        self.loader = source if isinstance(source, ProfileLoader) else ProfileLoader(source=source)
        self.settings = settings if settings is not None else Settings()
        self._enumerator: CandidateEnumerator | None = None
        self._semantic: SemanticIndex | None = None
        self._lock = threading.Lock()
        self._engine: SemanticEngine | None = engine
        self._unavailable: str | None = None
        if self.settings.semantic and engine is None:
            try:
                self._engine = SemanticEngine(self.settings.home, shared=shared)
            except ModelUnavailable as exc:
                self._unavailable = str(exc)
                log.warning("semantic retrieval is on but %s; selection stays lexical", exc)

    @property
    def semantic_status(self) -> str:
        """off | unavailable: why | waiting (no index built yet) | loading (embedding the
        current index's tools) | ready | failed: why. Selection is hybrid only when ready."""
        if self._unavailable is not None:
            return f"unavailable: {self._unavailable}"
        if self._engine is None:
            return "off"
        semantic = self._semantic
        if semantic is None:
            return "waiting"
        if semantic.ready.is_set():
            return "ready"
        if semantic.error is not None:
            return f"failed: {semantic.error}"
        return "loading"

    def enumerator_for(self, snapshot: CatalogSnapshot) -> CandidateEnumerator:
        """The enumerator over `snapshot`'s index, rebuilt only when the snapshot changed."""
        current = self._enumerator
        if current is not None and current.index.key == snapshot_key(snapshot):
            return current
        with self._lock:
            current = self._enumerator
            if current is None or current.index.key != snapshot_key(snapshot):
                current = self._enumerator = CandidateEnumerator(CatalogIndex(snapshot))
                if self._engine is not None:
                    self._semantic = self._engine.index(current.index.tools)
            return current

    def wait_for_semantic(self, timeout: float | None = None) -> bool:
        """Build the current index if needed and wait until its embeddings are ready; False
        when semantic retrieval is off, unavailable, failed, or the wait timed out."""
        self.enumerator_for(self.loader.snapshot())
        semantic = self._semantic
        return semantic is not None and semantic.done.wait(timeout) and semantic.ready.is_set()

    async def await_semantic(self) -> bool:
        """Async form of wait_for_semantic: True once the current index's embeddings are
        ready, False when semantic retrieval is off or failed. Bound it with asyncio.timeout
        (it polls, so cancelling leaves no thread behind)."""
        await self.aselect_index()
        semantic = self._semantic
        if semantic is None:
            return False
        # A threading.Event set by the embedding thread: asyncio.Event is not thread-safe.
        while not semantic.done.is_set():  # noqa: ASYNC110
            await asyncio.sleep(SEMANTIC_POLL_S)
        return semantic.ready.is_set()

    async def aselect_index(self) -> CandidateEnumerator:
        """The enumerator for the source's current snapshot, built off the event loop when
        the snapshot is new (0.3 s for the starter catalog, ~1.5 s for 10,000 tools)."""
        snapshot = await self.loader.asnapshot()
        current = self._enumerator
        if current is not None and current.index.key == snapshot_key(snapshot):
            return current
        return await asyncio.to_thread(self.enumerator_for, snapshot)

    def _semantic_view(self, text: str) -> SemanticView | None:
        semantic, engine = self._semantic, self._engine
        if semantic is None or engine is None:
            return None
        return engine.view(semantic, text)

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
        """Async select. A new catalog generation's index is built in a worker thread, not
        on the event loop (see aselect_index)."""
        started = time.perf_counter()
        enumerator = await self.aselect_index()
        prefs, found = self._rank(enumerator, request)
        outcome = None
        if self._tied(found) and self.settings.llm_url:
            outcome = await self._ask(request, found)
        return self._result(enumerator, request, prefs, found, outcome, started)

    def _rank(
        self, enumerator: CandidateEnumerator, request: SelectionRequest
    ) -> tuple[PreferencesUsed, Enumeration]:
        prefs = resolve_preferences(request)
        view = None
        semantic = self._semantic
        # Embeddings of an older generation may still be being replaced.
        if semantic is not None and semantic.size == len(enumerator.index.tools):
            view = self._semantic_view(request.request)
        return prefs, enumerator.enumerate(request, prefs.weights, view)

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
        _record(decision, tie, outcome, started)
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
            retrieval=found.retrieval,
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
                cost=round(s.cost, 6),
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


def _record(
    decision: Decision | None, tie: TieBreak, outcome: TieOutcome | None, started: float
) -> None:
    """Every select's metrics, whichever door asked (API, CLI, Python)."""
    metrics.SELECTION_DURATION.observe(time.perf_counter() - started)
    method = "none" if decision is None else ("llm" if tie.method == "llm" else "deterministic")
    metrics.SELECTION_DECISIONS.labels(method).inc()
    if outcome is not None and outcome.asked is not None:
        metrics.SELECTION_TIE_BREAKS.labels(outcome.asked).inc()


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
