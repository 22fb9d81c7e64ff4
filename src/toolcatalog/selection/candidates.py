"""CandidateEnumerator (the seed's name) runs the per-request stages: retrieve (retrieve.py),
score the pooled tools' allowed patterns (here, with their policy rulings and estimates from
rulings.py and utilities from scoring.py), then gate (gate.py): scored (tool, capability,
pattern) candidates, best pattern per tool, in a deterministic order. decide.py takes the
decision and explain.py says why; answer.py assembles the result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from toolcatalog.model.environment import Outcome
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.profile import Effect
from toolcatalog.selection.everyday_words import speaks_of_private_life
from toolcatalog.selection.features import Dimensions, PatternEstimate
from toolcatalog.selection.feedback import FeedbackMemory
from toolcatalog.selection.fusion import top_indexes
from toolcatalog.selection.gate import MIN_RELATIVE_RELEVANCE, everyday, gate
from toolcatalog.selection.intent import IntentReading, read_intent
from toolcatalog.selection.models import (
    Excluded,
    RetrievalMethod,
    Role,
    SelectionRequest,
    Weights,
)
from toolcatalog.selection.pattern_entries import PatternEntry
from toolcatalog.selection.plainness import plainness
from toolcatalog.selection.policy import PolicyContext, tool_exclusions
from toolcatalog.selection.profiles import ObservedProfiles
from toolcatalog.selection.retrieval import CatalogIndex
from toolcatalog.selection.retrieve import Pool, pool_size, retrieve
from toolcatalog.selection.rulings import Ruling, Rulings, Verdict
from toolcatalog.selection.scoring import PREFERENCE_SHARE, final_score, utility
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text import in_user_words, user_words

# A pattern's own text moves it within its tool by up to PATTERN_SHARE of the tool's relevance;
# PATTERN_SMOOTHING (BM25 units) keeps one stray shared word from deciding between patterns.
PATTERN_SHARE = 0.25
PATTERN_SMOOTHING = 1.0
# See scoring.wants_answer_now: enough to put a tool's inline pattern first, too little to
# hand the request to another tool on its own (a tool with no inline pattern keeps its
# relevance: "which process is hammering the disk" lost iotop, all of whose ways sample).
BACKGROUND_FACTOR = 0.9
# A change that names the requested action only in its use cases ("roll back a bad update")
# ranks below one whose name says it ("upgrade_all_packages").
USE_CASE_FACTOR = 0.9
# A request asking for several changes ("open a P2 incident and page the on-call"): a change
# pattern that names only some of them keeps this share of its relevance per action it misses,
# so a pattern doing them all (Opsgenie's create_page) wins over one doing the first alone
# (ServiceNow's create_incident) unless it is clearly less relevant.
PARTIAL_FACTOR = 0.7
# (pattern, action) pairs whose plainness is kept; cleared when full.
MAX_PLAIN = 100_000
# Preference weights whose utilities a ruling keeps (see _finish).
MAX_WEIGHTS = 8


@dataclass(slots=True)
class Scored:
    entry: PatternEntry
    relevance: float
    estimate: PatternEstimate
    dims: Dimensions
    verdict: Verdict
    reasons: list[str]
    role: Role = "answer"
    missed: tuple[str, ...] = ()  # the request's other asked actions it does not name
    utility: float = 0.0
    score: float = 0.0
    confidence: float | None = None  # absolute relevance (calibrate.Calibration.confidence)

    @property
    def requires_approval(self) -> bool:
        return self.verdict.outcome is Outcome.needs_approval

    @property
    def fits(self) -> bool:
        """May be the decision: performs the change asked for, or reads what was asked."""
        return self.role in ("action", "answer")


@dataclass(slots=True)
class Enumeration:
    ranked: list[Scored]  # best pattern per tool, best tool first
    excluded: list[Excluded]
    coverage: float  # the best share of the request any pooled tool covers (0..1)
    relevant: bool  # some tool is about the request (see gate.py), or Stage A says so
    decidable: bool  # the best allowed tool is about the request and near the most relevant
    matched: dict[str, list[str]] = field(default_factory=dict)  # tool -> request words it has
    retrieval: RetrievalMethod = "lexical"
    # tool -> every allowed pattern of it, best first (ranked holds the first of each)
    patterns: dict[str, list[Scored]] = field(default_factory=dict)
    intent: IntentReading = field(default_factory=lambda: read_intent(""))
    # tool -> feedback's net evidence for requests like this one (feedback.py), -1..1
    learned: dict[str, float] = field(default_factory=dict)


class CandidateEnumerator:
    """Stateless apart from the index it reads; one per catalog generation."""

    def __init__(self, index: CatalogIndex, previous: CandidateEnumerator | None = None) -> None:
        """`previous`: the enumerator of an earlier generation `index` was derived from; what
        it knows of the unchanged tools is kept when they kept their positions (a write that
        updated tools): their rulings, plainness and effects."""
        self.index = index
        # How many patterns declare each input name (declared_inputs: those some pattern does).
        self._inputs: Counter[str]
        every: list[Pattern] | None = None  # index.patterns' patterns, once made
        if previous is not None and index.base == previous.index.key:
            self._inputs = previous._inputs.copy()
            for k in index.dropped:
                self._inputs.subtract(input_names(previous.index.patterns.of_tool(k)))
            for i in index.positions.changed:
                self._inputs.update(input_names(index.patterns.of_tool(i)))
            self._inputs = +self._inputs  # without the names no pattern declares any more
        else:
            every = index.patterns.patterns()
            self._inputs = Counter(declared_names(every))
        self.declared_inputs = frozenset(self._inputs)
        # Telemetry's figures (profiles.py); estimates and rulings depend on them.
        self.observed: ObservedProfiles | None = None
        self.rulings = Rulings(index)
        self._plain: dict[tuple[int, str], int] = {}
        # Per pattern (index.patterns order): whether its effect is read, for _role; and
        # whether it was declared: an inferred effect (a description-only catalog) neither
        # blocks nor demotes by intent.
        changed = index.changed_since(previous.index) if previous is not None else None
        if previous is None or changed is None:
            every = index.patterns.patterns() if every is None else every
            self._reads = [p.effect is Effect.read for p in every]
            self._declared = [p.effect_declared for p in every]
        else:
            self.observed = previous.observed
            self.rulings = previous.rulings.carried(index, changed)
            self._reads, self._declared = list(previous._reads), list(previous._declared)
            starts = index.pattern_start
            gone: set[int] = set()
            for i in changed:
                for j in range(int(starts[i]), int(starts[i + 1])):
                    gone.add(j)
                    pattern = index.patterns[j].pattern
                    self._reads[j] = pattern.effect is Effect.read
                    self._declared[j] = pattern.effect_declared
            self._plain = {k: v for k, v in list(previous._plain.items()) if k[0] not in gone}
        # Labelled requests from feedback (feedback.py), set by the selector per request.
        self.memory: FeedbackMemory | None = None

    def saved_state(self) -> tuple[Counter[str], list[bool], list[bool]]:
        """What `restored` needs besides the index (rulings and the rest start empty)."""
        return self._inputs, self._reads, self._declared

    @classmethod
    def restored(
        cls, index: CatalogIndex, state: tuple[Counter[str], list[bool], list[bool]]
    ) -> CandidateEnumerator:
        """The enumerator `saved_state` saved, over `index` (CatalogIndex.restored)."""
        self = cls.__new__(cls)
        self.index = index
        self._inputs, self._reads, self._declared = state
        if not len(self._reads) == len(self._declared) == len(index.patterns):
            raise ValueError("the saved enumerator does not match its index")
        self.declared_inputs = frozenset(self._inputs)
        self.observed = None
        self.rulings = Rulings(index)
        self._plain = {}
        self.memory = None
        return self

    def use_observed(self, observed: ObservedProfiles | None) -> None:
        """Calibrate with `observed` from now on: a new object drops the estimates and
        rulings of the tools whose figures it changed (Rulings.recalibrated)."""
        if observed is not self.observed:
            self.observed = observed
            self.rulings = self.rulings.recalibrated(observed)

    def enumerate(
        self,
        request: SelectionRequest,
        weights: Weights,
        semantic: SemanticView | None = None,
        interactive: bool = False,
        share: float = PREFERENCE_SHARE,
    ) -> Enumeration:
        """Rank the catalog for `request`; with `semantic` (a ready index), fuse embeddings.
        `interactive` (a question under the default preference): a tool's patterns that must
        run in the background lose BACKGROUND_FACTOR of their relevance."""
        index = self.index
        ctx = PolicyContext.of(request)
        stage_a = request.classification
        hint = stage_a.intent.action if stage_a is not None and stage_a.intent else None
        reading = read_intent(request.request, hint)
        learned = self._learned(request)
        pool = retrieve(
            index,
            request,
            ctx,
            semantic,
            {index.tool_position[t]: v for t, v in learned.items()} if learned else None,
        )
        raw, order, relevance = pool.raw, pool.order, pool.relevance
        excluded: list[Excluded] = []
        if request.explain:
            outside = top_indexes(raw, pool_size(request))
            for i in outside[(raw[outside] > 0) & ~pool.world[outside]]:
                tool = index.tools[int(i)]
                reasons = tool_exclusions(tool, ctx, self.rulings.environment(ctx))
                excluded.append(
                    Excluded(tool=tool.name, capability=None, pattern=None, reasons=reasons)
                )
        confidence = None
        # Judged once: for the relevance shown and for the gate.
        talk = everyday(pool) or speaks_of_private_life(
            request.request, index.tool_index, pool.calibration
        )
        if pool.calibration is not None and pool.tool_cosine is not None:
            confidence = (
                [0.0] * len(order)  # words nothing knows: no tool is about them (gate.py)
                if pool.unreadable
                else pool.calibration.confidence(
                    pool.tool_cosine[order], pool.generic_cosine, talk
                ).tolist()
            )
        preference = _Preference(weights, share)
        rulings = [self.rulings.ruling(i, request, ctx) for i in order.tolist()]
        for ruled in rulings:
            excluded += ruled.excluded

        def rank(reading: IntentReading) -> tuple[dict[str, list[Scored]], list[Scored]]:
            by_tool: dict[str, list[Scored]] = {}
            for k, (i, ruled) in enumerate(zip(order.tolist(), rulings, strict=True)):
                if ruled.allowed:
                    found = self._scored(i, float(relevance[i]), ruled, pool, reading, interactive)
                    _finish(found, ruled, preference, None if confidence is None else confidence[k])
                    # Stable: equal scores keep the catalog's pattern order, as the first-best
                    # did. What fits the intent comes first: a read-only helper never stands
                    # for a change.
                    found.sort(key=_within_tool)
                    by_tool[found[0].entry.tool.name] = found
            ranked = sorted(
                (group[0] for group in by_tool.values()),
                key=lambda s: (not s.fits, -round(s.score, 9), s.entry.tool.name),
            )
            return by_tool, ranked

        by_tool, ranked = rank(reading)
        if reading.source == "default" and only_changes(ranked):
            reading = SILENT_CHANGE
            by_tool, ranked = rank(reading)
        terms = list(pool.retrieval.terms)
        words = user_words(request.request, index.tool_index.correction)
        shown = [s.entry.tool_index for s in ranked[: request.top_k]]
        matched = {
            index.tools[i].name: in_user_words(words, found)
            for i, found in zip(shown, index.tool_index.terms_in(shown, terms), strict=True)
        }
        # The gate judges the tool, not how much of a several-action request it does.
        top = ranked[0] if ranked and ranked[0].fits else None
        best_fit = None if top is None else top.relevance / PARTIAL_FACTOR ** len(top.missed)
        verdict = gate(pool, best_fit if best_fit is not None else _best(ranked), talk)
        best_coverage = float(pool.coverage[order].max()) if len(order) else 0.0
        method: RetrievalMethod = "lexical" if semantic is None else "hybrid"
        return Enumeration(
            ranked,
            excluded,
            best_coverage,
            verdict.relevant,
            verdict.decidable,
            matched,
            method,
            by_tool,
            reading,
            learned,
        )

    def _learned(self, request: SelectionRequest) -> dict[str, float]:
        """Feedback's evidence for the request's tools (those still in the catalog)."""
        memory = self.memory
        if memory is None or not len(memory):
            return {}
        position = self.index.tool_position
        return {t: v for t, v in memory.lifts(request.request).items() if t in position}

    def _scored(
        self,
        tool_index: int,
        tool_relevance: float,
        ruled: Ruling,
        pool: Pool,
        reading: IntentReading,
        interactive: bool = False,
    ) -> list[Scored]:
        """The tool's allowed patterns for the request: each gets the tool's relevance, moved
        by how well the pattern's own text fits the request (PATTERN_SHARE) and lowered for a
        deprecated tool; each with its role for the request's intent."""
        own = self.index.pattern_tables.scores(tool_index, pool.retrieval.weighted)
        top_own = max(own, default=0.0)
        start = int(self.index.pattern_start[tool_index])
        # Only the choice among a tool's patterns moves: a tool whose every way runs in the
        # background (iotop samples for seconds) keeps its place among the tools.
        interactive = interactive and not all(p.estimate.background for p in ruled.allowed)
        out = []
        for p in ruled.allowed:
            fit = (own[p.j - start] + PATTERN_SMOOTHING) / (top_own + PATTERN_SMOOTHING)
            if p.capability in pool.capabilities:
                fit = 1.0
            relevance = tool_relevance * p.factor * (1.0 - PATTERN_SHARE + PATTERN_SHARE * fit)
            if interactive and p.estimate.background:
                relevance *= BACKGROUND_FACTOR
            role, plain, missed = self._role(p.j, p.entry, reading)
            if plain == 1:
                relevance *= USE_CASE_FACTOR
            notes = list(p.notes)
            if missed:
                relevance *= PARTIAL_FACTOR ** len(missed)
                notes.append(f"does not {' or '.join(missed)}, also asked for")
            out.append(
                Scored(p.entry, relevance, p.estimate, p.dims, p.verdict, notes, role, missed)
            )
        return out

    def _role(
        self, j: int, entry: PatternEntry, reading: IntentReading
    ) -> tuple[Role, int, tuple[str, ...]]:
        """The pattern's role for the request's intent, how plainly it names the action asked
        for (plainness.py; kept per pattern and action: the text does not change), and which
        of the request's other asked actions (`also`) it does not name."""
        reads = self._reads[j]
        if not self._declared[j]:
            return ("answer" if reading.kind == "read" else "action"), 2, ()
        if reading.kind == "read":
            return ("answer" if reads else "unrequested_change"), 0, ()
        if reads:
            return "helper", 0, ()
        if reading.action is None:
            return "action", 2, ()
        plain = self._plainness(j, entry, reading.action)
        if not plain:
            return "other_change", 0, ()
        missed = tuple(a for a in reading.also if not self._plainness(j, entry, a))
        return "action", plain, missed

    def _plainness(self, j: int, entry: PatternEntry, action: str) -> int:
        key = (j, action)
        plain = self._plain.get(key)
        if plain is None:
            if len(self._plain) >= MAX_PLAIN:
                self._plain.clear()
            plain = self._plain[key] = plainness(entry, action)
        return plain


@dataclass(frozen=True, slots=True)
class _Preference:
    """A request's weights and preference share; `key` identifies the weights."""

    weights: Weights
    share: float

    @property
    def key(self) -> tuple[float, ...]:
        w = self.weights
        return (w.speed, w.accuracy, w.cost, w.complexity, w.completeness)


def _finish(
    found: list[Scored], ruled: Ruling, preference: _Preference, confidence: float | None
) -> None:
    """Utility and score of one tool's scored patterns (`found`, in `ruled.allowed` order).
    Every dimension is absolute (features.py): a candidate's score depends on its own
    relevance, pattern and inputs, never on which other candidates are in play; so the
    utilities are kept with the ruling, per weights (the usual request has the default)."""
    key = preference.key
    utilities = ruled.utilities.get(key)
    if utilities is None:
        if len(ruled.utilities) >= MAX_WEIGHTS:
            ruled.utilities.clear()
        weights = preference.weights
        utilities = ruled.utilities[key] = [utility(p.dims, weights) for p in ruled.allowed]
    share = preference.share
    for s, u in zip(found, utilities, strict=True):
        s.utility = u
        s.score = final_score(s.relevance, u, share)
        s.confidence = confidence


# A request whose words name no action and ask nothing ("worker 4821 ignores SIGTERM and won't
# die", "DM the on-call the runbook link on slack": a verb the reader does not know) is read as a
# look. When its most relevant tools can only change something and no tool that reads is near
# them, reading it as a look refuses what the catalog plainly answers: it is read as asking for
# that change instead (the policy and its approvals still apply to the decision).
SILENT_CHANGE = IntentReading(
    "change", None, "default", "names no action; its most relevant tools only change"
)


def only_changes(ranked: list[Scored]) -> bool:
    """Whether a look has no decision among `ranked` for want of a fitting tool: the best
    fitting one (ranked first when any fits) is under MIN_RELATIVE_RELEVANCE of the most
    relevant, which does not fit (gate.gate's test of a decidable tool)."""
    if not ranked:
        return False
    most = max(s.relevance for s in ranked)
    fitting = ranked[0].relevance if ranked[0].fits else 0.0
    return fitting < MIN_RELATIVE_RELEVANCE * most


def _within_tool(s: Scored) -> tuple[bool, float]:
    return (not s.fits, -round(s.score, 9))


def _best(ranked: list[Scored]) -> float | None:
    """No candidate fits the intent: the gate still says whether the request is about the
    catalog, and decide() says why nothing that fits may run."""
    return ranked[0].relevance if ranked else None


def input_names(entries: Iterable[PatternEntry]) -> Iterator[str]:
    """The input names the patterns of `entries` declare, once per pattern."""
    return declared_names(entry.pattern for entry in entries)


def declared_names(patterns: Iterable[Pattern]) -> Iterator[str]:
    """The input names `patterns` declare, once per pattern."""
    for pattern in patterns:
        yield from pattern.inputs.get("properties", {})
