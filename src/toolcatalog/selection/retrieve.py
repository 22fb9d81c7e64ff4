"""Stage 1, retrieve: from a request to the pool of tools worth scoring, each with its
relevance. Lexical BM25F scores (retrieval.CatalogIndex), lifted by Stage A's evidence and the
platform the words name, fused with the semantic ranking when the embeddings are ready.

The pool holds the most relevant POOL_MIN (or 4 x top_k) tools of the request's world (enabled,
platform-compatible), so the cost of the later stages does not grow with the catalog."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.calibrate import Calibration
from toolcatalog.selection.feedback import LIFT, REJECT_SHARE
from toolcatalog.selection.grain import asked_objects, lift_reporters
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.policy import PolicyContext
from toolcatalog.selection.retrieval import OS_NAMES, CatalogIndex, Retrieval
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text import platform_hint, query_terms, request_tokens

POOL_MIN = 20
# Stage A evidence, in units of the best text score. Offering a capability Stage A named lifts
# a tool by CAPABILITY_BOOST x intent.confidence: at 0.9 (a sure classifier) a tool that only
# offers the capability outranks one the text alone points at ("check web01" with
# ["memory_usage"] retrieves free, not df), a tool with both wins, and at the default 0.5 the
# text still leads. A service, command, application or database entity that names a tool is
# stronger evidence (ENTITY_BOOST); their values are also added to the retrieval text.
CAPABILITY_BOOST = 1.25
ENTITY_BOOST = 0.6
# Below this intent.confidence Stage A is unsure: the pool is widened (x POOL_WIDENING) and its
# capabilities no longer count as evidence that the request is about the catalog, so the gate
# judges the words alone (abstention likelier). Entities below ENTITY_MIN_CONFIDENCE are ignored.
LOW_CONFIDENCE = 0.4
POOL_WIDENING = 2
ENTITY_MIN_CONFIDENCE = 0.5
STEERING_ENTITIES = frozenset({"service", "command", "application", "database"})

# Semantic fusion (Settings.semantic). A tool's relevance is the weighted mean of its lexical
# score (over the best) and its semantic score placed between SEMANTIC_FLOOR and the best
# (rank-fused values squeeze the top ten into 0.85..1 and would hand the choice to
# preferences), and the pool is the tools of highest relevance: the order the candidates are
# ranked in. (A pool by reciprocal-rank fusion, then ranked by relevance, left out tools that
# relevance puts in the first five: MetaTool recall@5 0.778 with it, 0.799 without.)
# SEMANTIC_FLOOR is about the cosine of unrelated text (out-of-scope requests: median best
# cosine 0.24).
SEMANTIC_SHARE = 0.5  # without a calibration; see calibrate.SEMANTIC_SHARE_*
SEMANTIC_FLOOR = 0.2
# When more than this share of the catalog's tools need their exact semantic scores (see
# fuse), the whole catalog is scanned exactly instead.
EXACT_ALL_SHARE = 0.25
# Tools in doubt on the scan's first bound are scored on its finer tier (cosine_scan.py) when
# more than this many, else settled exactly at once: below it one finer pass and the exact
# one it still leaves cost more than the exact one alone (10,000 generated tools, thread CPU
# at load ~9: 190 tools 0.58 ms finer against 0.46 exact, 600 tools 1.31 against 2.50).
FINER_MIN_TOOLS = 256


@dataclass(slots=True)
class Pool:
    """What retrieval hands on: per catalog tool (CatalogIndex order) its raw lexical score,
    coverage and matched words after Stage A's lifts, the world mask, the pooled tools best
    first, each tool's relevance (the most relevant pooled tool at 1), and with embeddings
    the best single text cosine of any tool in the world."""

    retrieval: Retrieval
    raw: FloatArray
    coverage: FloatArray
    matches: FloatArray
    world: npt.NDArray[np.bool_]
    order: npt.NDArray[np.int64]
    relevance: FloatArray
    capabilities: frozenset[str]  # canonical capability names Stage A named
    semantic_best: float | None = None
    tool_cosine: FloatArray | None = None  # each tool's best single text cosine
    calibration: Calibration | None = None  # the catalog's (see calibrate.py)
    # Tools Stage A vouches for (a named tool, or a capability at confidence >= LOW_CONFIDENCE):
    # the gate counts them as about the request whatever the words' strength.
    vouched: npt.NDArray[np.bool_] | None = None
    # The request's best cosine to one of the calibration's generic requests.
    generic_cosine: float | None = None
    # No word of the request is known to the encoder or the catalog and none matched
    # lexically: its embedding means nothing, so no tool is about it (gate.py).
    unreadable: bool = False
    # Some tools hold a name of the request the encoder cannot read (name_holders): its
    # cosines miss that word, so lexical evidence counts for more at the gate.
    names: bool = False


# top_indexes: catalogs of SAMPLE_MIN tools or more first find a floor from every
# SAMPLE_STRIDE-th score.
SAMPLE_MIN = 20_000
SAMPLE_STRIDE = 64


def top_indexes(scores: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Indexes of the `count` highest positive scores, best first, ties by index (tool name):
    a partition then a sort of the few, not a sort of the whole catalog (0.5 ms at 10,000).

    In a large catalog the partition runs over the few scores that can be among the first
    `count`: those at or above the count-th best of a strided sample (a sample's count-th
    best is at most the whole's), the same answer from about 1/SAMPLE_STRIDE of the work
    (100,000 tools, all scored: 2.0 -> 0.3 ms)."""
    if len(scores) >= SAMPLE_MIN:
        sample = scores[::SAMPLE_STRIDE]
        if np.count_nonzero(sample > 0) >= count > 0:
            floor = np.partition(sample, len(sample) - count)[len(sample) - count]
            positive = np.flatnonzero(scores >= floor)
            return _best_of(scores, positive, count)
    return _best_of(scores, np.flatnonzero(scores > 0), count)


def _best_of(
    scores: npt.NDArray[np.float64], positive: npt.NDArray[np.int64], count: int
) -> npt.NDArray[np.int64]:
    """The `count` best of `positive` (indexes of positive scores holding the best)."""
    if len(positive) > count:
        cut = np.partition(scores[positive], len(positive) - count)[len(positive) - count]
        positive = positive[scores[positive] >= cut]
    ranked = positive[np.lexsort((positive, -scores[positive]))]
    return ranked[:count].astype(np.int64)


def fuse(
    semantic: SemanticView,
    world: npt.NDArray[np.bool_],
    lexical: npt.NDArray[np.float64],
    pool: int,
    problems: list[int] | None = None,
    instruments: list[int] | None = None,
    platforms: FloatArray | float = 1.0,
) -> tuple[npt.NDArray[np.int64], FloatArray, float, FloatArray]:
    """The pool (best first) by fused relevance of the lexical and semantic scores, each
    tool's relevance (the most relevant tool at 1), the best single text cosine of any tool
    that can serve the request, and each tool's best text cosine.

    The semantic scores come from the fast scan (cosine_scan.py) with a bound on their error;
    the tools whose place that bound leaves in doubt (near the most similar tool, near the
    pool's last place, near the best single cosine) get finer scores (a large set) and then
    exact ones, until no tool is in doubt, so the pool, its relevance and cosines, and the
    best cosine are those of the exact scan. Other tools' relevance and cosines are within
    the bound (nothing reads them). `platforms`: the
    request's platform factors (CatalogIndex.platform_factor), which `lexical` already
    carries, applied to the semantic share too: a platform the request names or implies
    reaches the fused relevance, not only the lexical score."""
    approximation = semantic.approximate()
    mean, best = approximation.mean, approximation.best
    # How far each tool's scores may be off: the scan's bound, then the finer tier's for the
    # tools of a large set in doubt, then 0 once settled exactly.
    off = np.full(len(mean), approximation.bound)
    everything = np.arange(len(mean))

    def settle(tools: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """`tools` settled exactly or, when many are on the scan's bound, scored finer; the
        tools whose scores changed."""
        tools = tools[off[tools] > 0]
        coarse = tools[off[tools] > approximation.fine_bound]
        if len(coarse) > FINER_MIN_TOOLS:
            mean[coarse], best[coarse] = approximation.finer(coarse)
            off[coarse] = approximation.fine_bound
            return coarse
        if len(tools) > EXACT_ALL_SHARE * len(mean):
            mean[:], best[:] = semantic.scores()
            off[:] = 0.0
            return everything
        if len(tools):
            mean[tools], best[tools] = semantic.exact(tools)
            off[tools] = 0.0
        return tools

    def doubtful(values: FloatArray) -> npt.NDArray[np.int64]:
        """The unsettled tools that may hold the greatest of `values` (in the world: each
        within `off` of its exact value): those whose most reaches the greatest least."""
        margin = np.where(world, off, 0.0)
        floor = float((values - margin).max(initial=-np.inf))
        return np.flatnonzero((values + margin >= floor) & (margin > 0))

    def greatest(values: Callable[[], FloatArray]) -> tuple[FloatArray, float]:
        """`values()` once the tools that may hold their greatest are settled, and that
        greatest, exact."""
        current = values()
        while len(near := doubtful(current)):
            settle(near)
            current = values()
        return current, float(current.max(initial=-1.0))

    def best_cosines() -> FloatArray:
        return np.where(world, best, -1.0)

    def cosines() -> FloatArray:
        cosine = np.where(world, mean, -1.0)
        if problems:
            cosine[problems] -= NAMED_PROBLEM_COSINE
        if instruments:
            cosine[instruments] += NAMED_INSTRUMENT_COSINE
        return cosine

    calibration = semantic.calibration
    share = calibration.semantic_share if calibration is not None else SEMANTIC_SHARE
    top_lexical = float(lexical.max(initial=0.0))
    lex = lexical / top_lexical if top_lexical > 0 else lexical
    # Both greatest cosines read below, the semantic scale's top and the best single one:
    # their tools in doubt settled in one pass (settling others only raises each floor).
    settle(np.union1d(doubtful(cosines()), doubtful(best_cosines())))
    cosine, top = greatest(cosines)
    span = max(top - SEMANTIC_FLOOR, 1e-9)

    def fused(at: npt.NDArray[np.int64], moved: FloatArray) -> FloatArray:
        """The relevance of tools `at` at cosines `moved` (an element-wise formula: the same
        bits for a tool whichever others are computed beside it)."""
        factor = platforms if isinstance(platforms, float) else platforms[at]
        sem = np.clip((moved - SEMANTIC_FLOOR) / span, 0.0, 1.0) * factor
        out: FloatArray = (1.0 - share) * lex[at] + share * sem
        return out

    # The pool is the `pool` most relevant tools of positive relevance. A tool whose most is
    # under the pool-th greatest least (or not positive) cannot be in it; every tool that can
    # is settled (even one whose relevance the cosines cannot move: the pool's cosines are
    # read), so the pool and its values are the exact scan's.
    margin = np.where(world, off, 0.0)
    relevance = fused(everything, cosine)
    least, most = fused(everything, cosine - margin), fused(everything, cosine + margin)
    while True:
        positive = least[least > 0]
        cut = 0.0 if len(positive) < pool else float(np.partition(positive, -pool)[-pool])
        doubt = np.flatnonzero(((most >= cut) if cut > 0 else (most > 0)) & (off > 0))
        if not len(doubt):
            break
        at = settle(doubt)
        cosine = cosines()  # the top stays: every tool that could hold it is exact
        margin = np.where(world, off, 0.0)
        relevance[at] = fused(at, cosine[at])
        least[at] = fused(at, cosine[at] - margin[at])
        most[at] = fused(at, cosine[at] + margin[at])
    order = top_indexes(relevance, pool)
    scale = float(relevance[order[0]]) if len(order) else 0.0
    if scale > 0:
        relevance = relevance / scale
    _, best_cosine = greatest(best_cosines)
    return order, relevance, best_cosine, best


# A tool the request names as the problem ("journalctl shows nothing for the unit", "systemctl
# says active but nothing listens", "'htop: command not found'") is where the person already
# looked: the answer is the next tool to look with. Such a tool keeps NAMED_PROBLEM_LEXICAL of
# its lexical score and loses NAMED_PROBLEM_COSINE of its cosine. A name counts only when it
# is the tool's own word (held by at most NAMED_MAX_SHARE of the tools' texts, or 3: `find`,
# `top` or `last` are plain English in a third of the starter catalog's tools, `journalctl` is
# in 5 %) and a failure cue follows it in the same clause, or a cue before it rules it out.
NAMED_PROBLEM_LEXICAL = 0.3
NAMED_PROBLEM_COSINE = 0.15
NAMED_MAX_SHARE = 0.06
_FAILURE_AFTER_NAME = (
    r"(?:shows?|showing|says?|saying|reports?|returns?|gives?|prints?|outputs?|lists?)\b"
    r"[^.;,]*?\b(?:nothing|empty|none|no\b|but\b|wrong|error|fails?)"
    r"|(?:is |are )?(?:command )?not found|(?:is |are )?(?:blocked|not allowed|not an option"
    r"|not available|unavailable|not installed|off[- ]limits)\b"
    r"|(?:does ?n[o']t|is ?n[o']t|is not|won'?t|can'?t) (?:work|run|start|show|help)"
    r"|(?:fails?|failed|failing|hangs?|crashe[sd]|is broken)\b"
)
_CLAUSE_AFTER = r"[^.;!?]{0,60}?\b"
# What follows a named tool's word when it is the problem, matched at the word's end: one
# compiled pattern. Searched as one expression with the word in it, each new word compiled
# it anew (~3.7 ms of CPU, in 48 of 552 starter-catalog selects at once, the p95's tail).
_FAILURE_AFTER = re.compile(rf"\W*{_CLAUSE_AFTER}(?:{_FAILURE_AFTER_NAME})")
# ...or that the request rules out before naming it ("instead of splunk", "rather than
# kubectl", "without docker", "not psql but", "don't use curl"): the person wants another way.
_RULED_OUT_BEFORE_NAME = re.compile(
    r"\b(?:instead of|rather than|other than|except|without|avoid(?:ing)?|not|no|never"
    r"|(?:do ?n[o']t|can'?t|cannot|must ?n[o']t|won'?t) use)"
    r"\s+(?:using\s+|use\s+|via\s+|with\s+|through\s+|the\s+|an?\s+)?[\"'`]?$"
)


# A tool the request names as the one to use ("use dig +trace to see...", "with kubectl,
# drain...", "via ssh") is what the person asked for: its lexical score gains
# NAMED_INSTRUMENT_LIFT of the best and its cosine NAMED_INSTRUMENT_COSINE, so that a tool
# merely near in meaning does not take its place (a catalog of bare descriptions weighs
# meaning most). The same rarity rule as above applies to the name.
NAMED_INSTRUMENT_LIFT = 0.3
NAMED_INSTRUMENT_COSINE = 0.1
_INSTRUMENT_BEFORE_NAME = re.compile(r"\b(?:use|using|with|via|through)\s+(?:the\s+)?[\"'`]?$")


# A word the request writes in capitals (GKE, AKS, SPL, HKLM, DD) is usually a product or
# vendor name: when few tools have it (as for NAMED_MAX_SHARE), it counts ACRONYM_WEIGHT times
# a plain word, so the product named outweighs the generic words around it.
ACRONYM_WEIGHT = 2.0
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")


def _rare_enough(index: CatalogIndex) -> int:
    return max(3, int(NAMED_MAX_SHARE * len(index.tools)))


def weigh_acronyms(index: CatalogIndex, text: str, terms: dict[str, float]) -> None:
    """Raise the weight of the request's capitalised product words in `terms` (in place)."""
    most = _rare_enough(index)
    for word in _ACRONYM.findall(text):
        for term in request_tokens(word):
            if terms.get(term, 0.0) >= 1.0 and (
                0 < index.tool_index.document_frequency(term) <= most
            ):
                terms[term] = ACRONYM_WEIGHT


def tool_named(index: CatalogIndex, word: str) -> int | None:
    """The tool a request's word names: its name, or the head of exactly one tool's name
    ("splunk" for splunk_api, "kafka" for kafka_cli), as an index position."""
    name = word.replace("-", "_")
    position = index.tool_position.get(name)
    if position is not None:
        return position
    head = name + "_"
    names = index.tool_names
    at = bisect.bisect_left(names, head)
    heads = at < len(names) and names[at].startswith(head)
    alone = heads and (at + 1 == len(names) or not names[at + 1].startswith(head))
    return at if alone else None


def named_as_problem(index: CatalogIndex, text: str) -> list[int]:
    """Tools the request names as the problem or rules out (see NAMED_PROBLEM_*), as index
    positions."""
    return named_tools(index, text)[0]


def named_tools(index: CatalogIndex, text: str) -> tuple[list[int], list[int]]:
    """Tools the request names as the problem or rules out, and tools it names as the one
    to use (see NAMED_INSTRUMENT_*), as index positions."""
    low = text.lower()
    most = _rare_enough(index)
    problems: list[int] = []
    instruments: list[int] = []
    for word in set(re.findall(r"[a-z][a-z0-9_-]{1,40}", low)):
        position = tool_named(index, word)
        if position is None or index.tool_index.document_frequency(word) > most:
            continue
        named = rf"\b{re.escape(word)}\b"
        starts = [m.start() for m in re.finditer(named, low)]
        if any(_FAILURE_AFTER.match(low, at + len(word)) for at in starts) or any(
            _RULED_OUT_BEFORE_NAME.search(low, 0, at) for at in starts
        ):
            problems.append(position)
        elif any(_INSTRUMENT_BEFORE_NAME.search(low, 0, at) for at in starts):
            instruments.append(position)
    return sorted(problems), sorted(instruments)


def implied_platform(index: CatalogIndex, text: str) -> frozenset[str]:
    """The operating system the tools a request names are bound to, from the catalog's own
    platform fields ("systemctl says active but ..." is on Linux, "wevtutil shows event 41"
    on Windows): empty when it names none, or tools of more than one OS. A name counts as in
    named_tools (the tool's own word, not plain English)."""
    most = _rare_enough(index)
    found: set[str] = set()
    for word in set(re.findall(r"[a-z][a-z0-9_-]{1,40}", text.lower())):
        position = tool_named(index, word)
        if position is not None and index.tool_index.document_frequency(word) <= most:
            platform = index.tools[position].platform.value
            if platform in OS_NAMES:
                found.add(platform)
    return frozenset(found) if len(found) == 1 else frozenset()


def name_holders(index: CatalogIndex, semantic: SemanticView, text: str) -> list[int]:
    """The tools that hold, word for word, a name of the request: a word the encoder cannot
    read (spelling.Speller.names: "NotReady", "PasswordLastSet", "SIGTERM") that few tools
    have (as for NAMED_MAX_SHARE). That is strong lexical evidence for them, which the
    encoder, cutting the word into pieces that mean nothing, cannot give."""
    holders: set[int] = set()
    most = _rare_enough(index)
    for name in semantic.names(text):
        for term in request_tokens(name):
            tools = index.tool_index.documents_with(term)
            if len(tools) <= most:
                holders.update(tools.tolist())
    return sorted(holders)


def stage_a_evidence(
    index: CatalogIndex, request: SelectionRequest
) -> tuple[frozenset[str], frozenset[str]]:
    """Canonical capability names Stage A named, and tool names its (sure enough) service,
    command, application and database entities name."""
    stage_a = request.classification
    if stage_a is None:
        return frozenset(), frozenset()
    caps = frozenset(
        index.resolve_capability(c) for c in (stage_a.intent.capabilities if stage_a.intent else [])
    )
    named: set[str] = set()
    for value in steering_values(request):
        words = value.strip().lower().split()
        if words:
            named.add(words[0].replace("-", "_"))
        named.add(value.strip().lower().replace("-", "_").replace(" ", "_"))
    return caps, frozenset(n for n in named if n in index.tool_position)


def steering_values(request: SelectionRequest) -> list[str]:
    stage_a = request.classification
    if stage_a is None:
        return []
    return [
        e.value
        for e in stage_a.entities
        if e.type in STEERING_ENTITIES and e.confidence >= ENTITY_MIN_CONFIDENCE
    ]


def stage_a_confidence(request: SelectionRequest) -> float | None:
    stage_a = request.classification
    return None if stage_a is None or stage_a.intent is None else stage_a.intent.confidence


def unsure(request: SelectionRequest) -> bool:
    confidence = stage_a_confidence(request)
    return confidence is not None and confidence < LOW_CONFIDENCE


def pool_size(request: SelectionRequest) -> int:
    size = max(POOL_MIN, 4 * request.top_k)
    return size * POOL_WIDENING if unsure(request) else size


def retrieve(
    index: CatalogIndex,
    request: SelectionRequest,
    ctx: PolicyContext,
    semantic: SemanticView | None = None,
    learned: Mapping[int, float] | None = None,
) -> Pool:
    """The request's pool over `index`; with `semantic` (a ready index), fused with it.
    `learned`: tool position -> net feedback evidence in -1..1 (feedback.FeedbackMemory)."""
    steering = steering_values(request)
    text = request.request if not steering else f"{request.request} {' '.join(steering)}"
    terms = query_terms(text)
    weigh_acronyms(index, request.request, terms)
    holders = name_holders(index, semantic, request.request) if semantic is not None else []
    retrieval = index.retrieve(terms)
    raw = retrieval.tool_scores.copy()
    coverage = retrieval.tool_coverage.copy()
    matches = retrieval.tool_matches.copy()
    reference = max(float(raw.max(initial=0.0)), 1.0)
    # Tools bound to another OS than the one the request names or implies lose a share of
    # their semantic relevance too (fuse); the words' platform also lifts its own tools'
    # lexical score, a named tool's OS does not (the named tool would gain by being named).
    platforms: FloatArray | float = 1.0
    if ctx.platform is None:
        named = platform_hint(retrieval.terms)
        if named:
            raw *= index.platform_factor(named)
            platforms = index.platform_factor(named, boost=False)
        else:
            platforms = index.platform_factor(implied_platform(index, request.request), False)
            raw *= platforms
    capabilities, named = stage_a_evidence(index, request)
    confidence = stage_a_confidence(request) or 0.0
    sure = not unsure(request)
    vouched = np.zeros(len(raw), dtype=bool)
    if capabilities or named:
        # Only the tools offering a named capability, or named, can be lifted.
        touched = {index.tool_position[name] for name in named}
        for capability in capabilities:
            touched.update(index.offering(capability))
        for i in sorted(touched):
            offered = index.tool_capabilities[i]
            lift = 0.0
            if capabilities and offered & capabilities:
                lift += CAPABILITY_BOOST * confidence * reference
            named_tool = index.tools[i].name in named
            if named_tool:
                lift += ENTITY_BOOST * reference
            if lift:
                raw[i] += lift
            if named_tool or (lift and sure):
                coverage[i] = max(coverage[i], 0.5)
                matches[i] = max(matches[i], 2.0)
                vouched[i] = True
    problems, instruments = named_tools(index, request.request)
    if problems:
        raw[problems] *= NAMED_PROBLEM_LEXICAL
    if instruments:  # named as the tool to use: about the request, as a named entity is
        raw[instruments] += NAMED_INSTRUMENT_LIFT * reference
        coverage[instruments] = np.maximum(coverage[instruments], 0.5)
        matches[instruments] = np.maximum(matches[instruments], 2.0)
        vouched[instruments] = True
    vouched[holders] = True
    for i, evidence in (learned or {}).items():
        if evidence > 0:  # callers used this tool for requests like this one
            raw[i] += LIFT * evidence * reference
            coverage[i] = max(coverage[i], 0.5)
            matches[i] = max(matches[i], 2.0)
            vouched[i] = True
        else:  # ... or rejected it
            raw[i] *= 1.0 + REJECT_SHARE * evidence
    size = pool_size(request)
    # Tools that cannot run here at all (disabled, another platform) are not part of the
    # request's world: they neither enter the pool nor set the relevance scale.
    world = index.world_mask(ctx.platform)
    in_world = np.where(world, raw, 0.0)
    asked = asked_objects(request.request)
    if semantic is not None:
        order, relevance, best, cosine = fuse(
            semantic, world, in_world, size, problems, instruments, platforms
        )
        if asked:
            order, relevance = lift_reporters(index.tools, order, relevance, asked)
        return Pool(
            retrieval,
            raw,
            coverage,
            matches,
            world,
            order,
            relevance,
            capabilities,
            best,
            cosine,
            semantic.calibration,
            vouched,
            None
            if semantic.calibration is None
            else semantic.calibration.generic_cosine(semantic.query),
            not retrieval.tool_matches.any() and semantic.unreadable(request.request),
            bool(holders),
        )
    order = top_indexes(in_world, size)
    top = float(in_world[order[0]]) if len(order) else 0.0
    relevance = in_world / top if top > 0 else in_world
    if asked:
        order, relevance = lift_reporters(index.tools, order, relevance, asked)
    return Pool(
        retrieval, raw, coverage, matches, world, order, relevance, capabilities, vouched=vouched
    )
