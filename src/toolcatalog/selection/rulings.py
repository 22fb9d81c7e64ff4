"""Policy rulings: each pattern of a tool judged under a request's constraints (platform,
environment, approvals; policy.py) with its estimates (features.py, calibrated by telemetry's
figures, profiles.py). They depend on the constraints and the inputs, not on the request's
words, so for requests without `inputs` (the usual kind) they are kept per constraint set and
computed once per tool: under the default constraints ahead of the requests (rule_ahead),
under others the first time a request pools it."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import filterfalse

from toolcatalog.collector import collector_paused
from toolcatalog.model.environment import DEFAULT_POLICIES, EnvironmentRules, Outcome
from toolcatalog.model.tool import Status
from toolcatalog.selection.features import (
    Dimensions,
    PatternEstimate,
    dimensions,
    estimate_pattern,
)
from toolcatalog.selection.inputs import Inputs
from toolcatalog.selection.models import Excluded, SelectionRequest
from toolcatalog.selection.pattern_entries import PatternEntry
from toolcatalog.selection.policy import PolicyContext, judge_pattern, tool_exclusions
from toolcatalog.selection.profiles import ObservedProfiles, calibrated, reliability
from toolcatalog.selection.retrieval import CatalogIndex

DEPRECATED_FACTOR = 0.85
# Constraint sets whose policy rulings are kept (see Rulings.ruling).
MAX_CONTEXTS = 32
# The constraints of a request that states none (and has no Stage A reading): most requests.
DEFAULT_CONTEXT = PolicyContext.of(SelectionRequest(request="any"))
# A catalog of at most this many tools is ruled under DEFAULT_CONTEXT beside the readers once
# its index is built (rule_beside), so that no request pays a tool's first ruling: at 10,000
# generated tools a new request pooled ~17 tools no earlier one had, 2.3 of its 14.4 ms of CPU
# (load ~4). It costs ~0.2 ms of CPU and ~2.8 KiB a tool (10,000 tools: ~2 s at load 9, 27
# MiB), what the rulings reach anyway once requests have pooled every tool. Above it tools
# are ruled when first pooled, as before (100,000 tools would hold ~270 MiB of rulings).
AHEAD_MAX_TOOLS = 20_000
# Tools whose rulings are kept per constraint set: past it the oldest ruled is dropped (ruled
# again if pooled again, ~0.2 ms). Requests that pool varied tools of a larger catalog made
# them grow until every tool was ruled (100,000 generated tools: ~270 MiB a constraint set);
# a catalog ruled ahead holds all of its tools.
KEPT_MAX_TOOLS = AHEAD_MAX_TOOLS
# And patterns whose estimates at their defaults are kept (the rulings hold those they used).
KEPT_MAX_PATTERNS = 8 * KEPT_MAX_TOOLS
# Tools ruled between two hand-overs of the GIL (~0.1-0.5 ms each): readers wait at most a
# few milliseconds for the ruling thread.
AHEAD_SLICE = 16
# A catalog of at most this many tools also has each tool's patterns tabled ahead
# (CatalogIndex.pattern_tables), so no request pays a tool's first table (its patterns' term
# frequencies, ~20 us a tool; ~20 tools a starter request pools). The starter catalog's
# tables hold 19 KiB a tool (tracemalloc, their frequencies included; a tool with one pattern
# has none): up to ~19 MiB here. Larger catalogs table a tool when a request first pools it
# (tools with the same patterns share one table).
TABLE_AHEAD_MAX_TOOLS = 1_000
# Rulings made ahead are frozen out of the cyclic collector's reach when at least this many
# tools were ruled (a build from nothing; see rule_beside).
AHEAD_FREEZE_AFTER = 1_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """A pattern's policy outcome (allowed or needs_approval), the rule that produced it and
    what approval it asks for."""

    outcome: Outcome
    rule: str
    approval: str | None


@dataclass(frozen=True, slots=True)
class Ruled:
    """An allowed pattern under some constraints, before the request's text is considered."""

    j: int
    entry: PatternEntry
    capability: str  # canonical
    factor: float
    estimate: PatternEstimate
    dims: Dimensions
    verdict: Verdict
    notes: tuple[str, ...]


@dataclass(slots=True)
class Ruling:
    excluded: list[Excluded]
    allowed: list[Ruled]
    # Preference weights -> the utility of each allowed pattern (see _finish).
    utilities: dict[tuple[float, ...], list[float]] = field(default_factory=dict)


class Rulings:
    """The rulings of one index's patterns under telemetry's `observed` figures (a new
    observation makes a new Rulings: the kept ones used the previous figures)."""

    def __init__(self, index: CatalogIndex, observed: ObservedProfiles | None = None) -> None:
        self.index = index
        self.observed = observed
        self._default_estimates: dict[int, tuple[PatternEstimate, Dimensions]] = {}
        self._rulings: dict[PolicyContext, dict[int, Ruling]] = {}

    def carried(self, index: CatalogIndex, changed: Sequence[int]) -> Rulings:
        """These rulings for `index`, a later generation whose tools other than `changed`
        are this one's at the same positions (CatalogIndex.changed_since): what was ruled
        for the others is kept, so the selects after a write do not rule every pooled tool
        again. The kept tables are copied whole (in C: a ruling thread may be adding to
        them) and the changed tools' entries taken out: a comprehension over every entry
        held was ~0.2 s of a write's build at 20,000 tools on a busy machine (py-spy)."""
        out = Rulings(index, self.observed)
        starts = index.pattern_start  # the same pattern positions in both (changed_since)
        estimates = self._default_estimates.copy()
        for i in changed:
            for j in range(int(starts[i]), int(starts[i + 1])):
                estimates.pop(j, None)
        out._default_estimates = estimates
        for ctx, rulings in list(self._rulings.items()):
            kept = out._rulings[ctx] = rulings.copy()
            for i in changed:
                kept.pop(i, None)
        return out

    def recalibrated(self, observed: ObservedProfiles | None) -> Rulings:
        """These rulings under `observed`, a new reading of telemetry: what was ruled for a
        tool whose figures are the same in both is kept, the others' are dropped (ruled
        again when next pooled). The selector re-reads telemetry every learning_refresh_s
        (30 s by default) into a new object, which dropped every ruling, so each reading's
        new requests paid every pooled tool's first ruling again."""
        changed = _changed_tools(self.observed, observed)
        if changed is None:
            return Rulings(self.index, observed)
        position = self.index.tool_position
        out = self.carried(self.index, [position[t] for t in changed if t in position])
        out.observed = observed
        return out

    def environment(self, ctx: PolicyContext) -> tuple[EnvironmentRules, str] | None:
        if ctx.environment is None:
            return None
        policies = self.index.snapshot.environments or DEFAULT_POLICIES
        return policies.rules(ctx.environment)

    def ruling(self, tool_index: int, request: SelectionRequest, ctx: PolicyContext) -> Ruling:
        """Policy and estimates of a tool's patterns under the request's constraints: the
        same for every request with the same constraints and no `inputs`, so kept for
        MAX_CONTEXTS constraint sets (the oldest dropped first; the usual request has
        none), KEPT_MAX_TOOLS tools each (likewise)."""
        if request.inputs:
            return self._rule(tool_index, request.inputs, ctx)
        return self._kept(tool_index, ctx)

    def rule_default(self, tool_index: int) -> bool:
        """Rule the tool as `ruling` does for a request without constraints or inputs (the
        usual kind), ahead of the first such request that pools it (rule_ahead); False when
        it was ruled already."""
        kept = self._rulings.get(DEFAULT_CONTEXT)
        if kept is not None and tool_index in kept:
            return False
        self._kept(tool_index, DEFAULT_CONTEXT)
        return True

    def unruled(self, count: int) -> list[int]:
        """Tools 0..count-1 not ruled under DEFAULT_CONTEXT, ascending: membership tests in
        C (requests may add rulings meanwhile; the table is never iterated)."""
        kept = self._rulings.get(DEFAULT_CONTEXT)
        if not kept:
            return list(range(count))
        return list(filterfalse(kept.__contains__, range(count)))

    def _kept(self, tool_index: int, ctx: PolicyContext) -> Ruling:
        rulings = self._rulings.get(ctx)
        if rulings is None:
            if len(self._rulings) >= MAX_CONTEXTS:
                self._rulings.pop(next(iter(self._rulings)), None)
            rulings = self._rulings[ctx] = {}
        found = rulings.get(tool_index)
        if found is None:
            if len(rulings) >= KEPT_MAX_TOOLS:
                rulings.pop(next(iter(rulings)), None)  # the oldest ruled
            found = rulings[tool_index] = self._rule(tool_index, {}, ctx)
        return found

    def _rule(self, tool_index: int, inputs: Inputs, ctx: PolicyContext) -> Ruling:
        index = self.index
        tool = index.tools[tool_index]
        env = self.environment(ctx)
        reasons = tool_exclusions(tool, ctx, env)
        if reasons:
            return Ruling(
                [Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)], []
            )
        ruled = Ruling([], [])
        status_factor = 1.0
        status_notes: tuple[str, ...] = ()
        if tool.status == Status.deprecated:
            status_factor = DEPRECATED_FACTOR
            status_notes = ("tool is deprecated (relevance lowered)",)
        elif tool.status == Status.experimental:
            status_notes = ("tool is experimental",)
        start, end = int(index.pattern_start[tool_index]), int(index.pattern_start[tool_index + 1])
        for j in range(start, end):
            entry = index.patterns[j]
            estimate, dims = self._estimate(j, entry, inputs)
            factor, unreliable = reliability(self.observed, entry)
            verdict = judge_pattern(entry.pattern, estimate, ctx, env)
            if verdict.exclusions:
                ruled.excluded.append(
                    Excluded(
                        tool=entry.tool.name,
                        capability=entry.capability.name,
                        pattern=entry.pattern.name,
                        effect=entry.pattern.effect,
                        reasons=verdict.exclusions,
                    )
                )
                continue
            ruled.allowed.append(
                Ruled(
                    j,
                    entry,
                    index.resolve_capability(entry.capability.name),
                    status_factor * factor,
                    estimate,
                    dims,
                    Verdict(verdict.outcome, verdict.rule, verdict.approval),
                    (*status_notes, *unreliable, *verdict.notes, *estimate.problems),
                )
            )
        return ruled

    def _estimate(
        self, j: int, entry: PatternEntry, inputs: Inputs
    ) -> tuple[PatternEstimate, Dimensions]:
        """The pattern's estimates (calibrated by telemetry, see profiles.py) and dimensions;
        those for its declared defaults (no `inputs`, the usual request) are computed once
        per index and observation."""
        if inputs:
            label = f"{entry.tool.name}.{entry.pattern.name}"
            estimate = calibrated(
                self.observed, entry, estimate_pattern(entry.pattern, inputs, label)
            )
            return estimate, dimensions(entry.pattern, estimate)
        cached = self._default_estimates.get(j)
        if cached is None:
            if len(self._default_estimates) >= KEPT_MAX_PATTERNS:
                self._default_estimates.pop(next(iter(self._default_estimates)), None)
            estimate = calibrated(self.observed, entry, estimate_pattern(entry.pattern, {}))
            cached = self._default_estimates[j] = (estimate, dimensions(entry.pattern, estimate))
        return cached


def _changed_tools(
    before: ObservedProfiles | None, after: ObservedProfiles | None
) -> set[str] | None:
    """The names of the tools some of whose patterns' figures differ between two readings
    (None: all may differ, the rules did). A ruling reads a pattern's figures and the rules
    only (profiles.calibrated, profiles.reliability); a pattern without figures is judged
    alike under no reading and under one without it."""
    if before is not None and after is not None and before.rules != after.rules:
        return None
    old = before.stats if before is not None else {}
    new = after.stats if after is not None else {}
    return {key[0] for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def rule_ahead(count: int, current: Callable[[], Rulings | None], stop: threading.Event) -> int:
    """Rule tools 0..count-1 under DEFAULT_CONTEXT (those not ruled yet), AHEAD_SLICE at a
    time, letting go of the GIL between slices. `current()` gives the rulings to fill (a new
    observation replaces them: the remaining tools go into the new ones), or None once the
    index is no longer the current one; `stop` ends the work early. Returns the number of
    tools it ruled (not those ruled before: a derived index keeps the unchanged tools').
    Only the tools not ruled yet are walked (Rulings.unruled): after a write, the changed
    ones, not every tool with a hand-over of the GIL every AHEAD_SLICE (20,000 tools: ~1,250
    a write). Up to TABLE_AHEAD_MAX_TOOLS tools, each tool's patterns are tabled too (every
    tool walked: a table is made once, as a ruling)."""
    ruled = 0
    tables = count <= TABLE_AHEAD_MAX_TOOLS
    walked: Rulings | None = None  # the rulings `todo` was read from
    todo: list[int] = []
    at = 0
    while True:
        rulings = current()
        if rulings is None or stop.is_set():
            break
        if rulings is not walked:  # the first, or a new observation's: read what is left
            walked, at = rulings, 0
            todo = list(range(count)) if tables else rulings.unruled(count)
        if at >= len(todo):
            break
        for tool_index in todo[at : at + AHEAD_SLICE]:
            ruled += rulings.rule_default(tool_index)
            if tables:
                rulings.index.pattern_tables.table(tool_index)
        at += AHEAD_SLICE
        time.sleep(0)  # hands the GIL to a waiting reader
    return ruled


def rule_beside(count: int, current: Callable[[], Rulings | None], stop: threading.Event) -> None:
    """rule_ahead on a daemon thread of its own, for a catalog of at most AHEAD_MAX_TOOLS."""
    if count > AHEAD_MAX_TOOLS or stop.is_set():
        return

    def rule() -> None:
        # The rulings are long-lived (~20 objects a tool): many are made with the collector
        # paused and frozen like the index, or their number sets off full collections of the
        # heap in the next selects (10,000 tools: two of ~300 ms in the first 64). After a
        # write (a derived index) only the changed tools are ruled: no freeze, which would
        # also freeze requests in flight (see Selector._build_beside).
        with collector_paused():
            ruled = rule_ahead(count, current, stop)
        if ruled >= AHEAD_FREEZE_AFTER:
            gc.freeze()

    threading.Thread(target=rule, name="toolcatalog-rulings", daemon=True).start()
