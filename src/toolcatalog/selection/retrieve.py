"""Stage 1, retrieve: from a request to the pool of tools worth scoring, each with its
relevance. Lexical BM25F scores (retrieval.CatalogIndex), lifted by Stage A's evidence and the
platform the words name, fused with the semantic ranking when the embeddings are ready.

The pool holds the most relevant POOL_MIN (or 4 x top_k) tools of the request's world (enabled,
platform-compatible), so the cost of the later stages does not grow with the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.calibrate import Calibration
from toolcatalog.selection.feedback import LIFT, REJECT_SHARE
from toolcatalog.selection.fusion import fuse, top_indexes
from toolcatalog.selection.grain import asked_objects, lift_reporters
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.policy import PolicyContext
from toolcatalog.selection.request_names import (
    NAMED_INSTRUMENT_LIFT,
    NAMED_PROBLEM_LEXICAL,
    implied_platform,
    name_holders,
    named_tools,
    weigh_acronyms,
)
from toolcatalog.selection.retrieval import CatalogIndex, Retrieval
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.text import platform_hint, query_terms

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
    # The request's cosines to its nearest generic requests of the calibration, best first
    # (Calibration.generic_nearest).
    generic_nearest: FloatArray | None = None
    # No word of the request is known to the encoder or the catalog and none matched
    # lexically: its embedding means nothing, so no tool is about it (gate.py).
    unreadable: bool = False
    # Some tools hold a name of the request the encoder cannot read (name_holders): its
    # cosines miss that word, so lexical evidence counts for more at the gate.
    names: bool = False

    @property
    def generic_cosine(self) -> float | None:
        """The request's best cosine to one of the calibration's generic requests."""
        return None if self.generic_nearest is None else float(self.generic_nearest[0])


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
    speller = semantic.index.speller if semantic is not None else None
    readable = None if speller is None else speller.encoder_known.__contains__
    problems, instruments = named_tools(index, request.request, readable)
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
            else semantic.calibration.generic_nearest(semantic.query),
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
