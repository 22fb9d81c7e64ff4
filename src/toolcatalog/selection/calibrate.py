"""Abstention calibrated per catalog: when is a request about this catalog at all?

A constant cosine threshold tuned on one catalog's wording refuses most requests of another
(ops wording: in-scope requests' best cosine >= 0.42; consumer plugins described in one
sentence: half of the right requests score under 0.46, 3 % under 0.27). So each catalog gets
its own threshold, computed with its embeddings (in the embedding thread, on every import and
hot reload, in well under a second) from two sets:

- negatives: the shipped generic requests (data/generic_requests.txt: greetings, chit-chat,
  statements, noise; neither operations nor a consumer task), their best cosine to any of the
  catalog's texts;
- in-scope probes: the catalog's own examples (written like requests), each scored against
  every other text of the catalog (leave-one-out: its own text and copies of it removed).

The threshold is the highest that refuses at most IN_SCOPE_REFUSAL of the probes, lowered to
the NEGATIVE_QUANTILE of the negatives when that already refuses them (no need to go higher).
A catalog with too few examples to measure false refusals (names and descriptions only, as
most imported catalogs are) has no request-like text to probe with; its descriptions still say
how tightly the catalog holds together. Each description's best cosine to another tool's text
is measured (at most MAX_PROBES), and a request about the catalog is rarely further from its
tool than the catalog's loosest descriptions are from their neighbours, less NEIGHBOUR_MARGIN:
the threshold is that reach, kept between the negatives' median (a loose catalog, where generic
requests sit as near as requests do: answer rather than refuse) and their NEGATIVE_QUANTILE (a
tight one: refuse what generic requests reach). Measured: the starter catalog reduced to names
and descriptions (descriptions' 3rd-percentile neighbour cosine 0.45) gets 0.306, the generic
requests' 97th percentile: out-of-scope requests refused 30/30 (15/30 at the median), held-out
top-1 unchanged, dev 0.667 -> 0.642 (3 of 120 refused); MetaTool's 199 consumer plugins (0.315)
keep the median, 0.241, where its in-scope requests' 3rd percentile is 0.267. Near the
threshold, lexical corroboration is required only where probes exist to show that it costs no
in-scope request (without probes: MetaTool's requests rarely share words with its one-sentence
descriptions, 21 % no decision with it).

Whatever the threshold, a request nearer to one of the generic requests than to any of the
catalog's texts (by a margin: what the catalog's examples allow, between 0 and GENERIC_MARGIN,
or without examples what its descriptions allow, between GENERIC_MARGIN_FLOOR and
GENERIC_MARGIN) is refused: the negatives also serve as the neighbours a request is compared
with, which refuses chit-chat a loose catalog's low threshold lets pass. Under the margin, a
request nearer to a generic request than to any tool is refused when its nearest neighbours
are generic requests far more often than the catalog's size would make them
(EVERYDAY_NEIGHBOURS): a kNN test, for catalogs whose requests read as chatty as chit-chat.

`confidence` puts a tool's best cosine on an absolute scale: 0.5 at the threshold, rising to
1 over about 4 x CONFIDENCE_WIDTH above it; comparable across requests and catalogs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.best_cosines import HeldRows, TextRows, best_cosines

GENERIC_REQUESTS = Path(__file__).parent / "data" / "generic_requests.txt"
EVERYDAY_TALK = Path(__file__).parent / "data" / "everyday_talk.txt"
IN_SCOPE_REFUSAL = 0.03
NEGATIVE_QUANTILE = 0.97
NO_PROBES_QUANTILE = 0.5
MIN_PROBES = 20
MAX_PROBES = 500  # examples used as probes (evenly spread): 500 x 80,000 texts is ~1 s
# Above threshold + CORROBORATION_MARGIN a request is taken on semantic evidence alone.
CORROBORATION_MARGIN = 0.1
CONFIDENCE_WIDTH = 0.08
# Lexical share of fused relevance: a catalog with examples has request-like text on the
# lexical side too (measured best at 0.5 on the starter catalog's dev and held-out requests);
# one of bare descriptions is matched better by meaning (0.6-0.7 on public description-only
# catalogs).
SEMANTIC_SHARE_WITH_EXAMPLES = 0.5
SEMANTIC_SHARE_WITHOUT = 0.65
# How far above fusion.SEMANTIC_FLOOR the semantic side reaches its whole share. A catalog with
# examples places each request's cosines between the floor and the request's best (None);
# one of bare descriptions over this constant span of cosine, not clipped, so a word match
# weighs the same in cosine units (0.35 / 0.65 x 0.2 = 0.11) whether the encoder finds the
# request close to a tool (best 0.7) or to nothing (best 0.3, where the per-request span
# stretched a few hundredths of cosine to the whole share), and tools under the floor keep
# their order. Measured (docs/performance.md, session 16 `rank13`): MetaTool's whole even
# half recall@5 0.800 -> 0.809 (179 requests won, 87 lost), top-1 0.592 -> 0.591 (132 won,
# 139 lost); manual pages 0.488 -> 0.558, standard library 0.800 -> 0.850, `--terse` held-out
# 0.850 -> 0.883. With examples it lost the starter dev set 4 of 120: they keep the span.
SEMANTIC_SPAN_WITHOUT = 0.2
EXAMPLE_KIND = 1
DESCRIPTION_KIND = 0
# Without examples: the threshold is the descriptions' NEIGHBOUR_QUANTILE neighbour cosine less
# NEIGHBOUR_MARGIN, between the negatives' median and NEGATIVE_QUANTILE. Any margin from 0.05
# to 0.14 gives the two measured catalogs the thresholds above; 0.1 is the middle.
NEIGHBOUR_QUANTILE = 0.03
NEIGHBOUR_MARGIN = 0.1
# A request nearer to one of the generic requests than to any text of the catalog, by more
# than GENERIC_MARGIN, is refused whatever the threshold says: a nearest-neighbour test
# between the catalog and the negatives. It matters where the threshold is low: a loose
# catalog keeps the negatives' median, so half of all chit-chat passes it. Measured on
# MetaTool 2,000 (threshold 0.241) with 30 chit-chat requests that are not among the negatives
# (bench/data/chit-chat.jsonl), margin 0.05 / 0.1 / none: chit-chat refused 27 / 24 / 13 of
# 30, in-scope no decision 2.8 / 1.8 / 1.3 %, top-1 0.582 / 0.588 / 0.589 (0.15, replayed
# offline: 20 of 30, 1.5 %); the starter catalog's sets, with and without examples, and the
# manual pages answer as before at 0.1.
GENERIC_MARGIN = 0.1
# A catalog with examples measures its own margin (_generic_margin): what its examples allow,
# refusing at most GENERIC_PROBE_REFUSAL of them. The starter catalog's 1,236 examples are
# nearer to the catalog than to any generic request by 0.13 or more for 99 % of them: its
# margin is 0 ("does anyone really know what time it is?" is refused: 0.055 nearer to a
# generic request than to timedatectl's texts).
GENERIC_PROBE_REFUSAL = 0.01
# A catalog without examples measures it on its descriptions (_description_margin): how much
# nearer each is to a generic request than to another tool's text, at DESCRIPTION_QUANTILE,
# plus DESCRIPTION_SLACK, as a description is no request (requests sit nearer to everyday talk
# than descriptions do). The 95th percentile, not the 99th the examples use: over a few hundred
# descriptions the 99th is the catalog's two or three oddest (Python's standard library: 177
# modules, 99th percentile -0.054 against a 95th of -0.18, like the manual pages' and the
# starter's -0.28, while MetaTool's consumer plugins sit near everyday talk throughout: -0.10);
# with the 99th the standard library got MetaTool's loose margin and answered "why do cats
# purr?" (tabnanny, 0.091 nearer to a generic request). Measured (docs/performance.md, session
# 16 `abstain13`): any slack from 0.195 (MetaTool's margin 0.095: none of its 2,000 in-scope
# requests is nearer to a generic request by more) to 0.27 (the standard library's 0.088, under
# that request's lead) answers every measured set alike; 0.23 is the middle: MetaTool 0.1, the
# standard library 0.048, the manual pages and the starter's names and descriptions
# GENERIC_MARGIN_FLOOR. The floor: a request a hair nearer to a generic request than to the
# catalog is a tie, not chit-chat (manual pages: "what is the current date and time" is 0.0004
# nearer to one than to `date`'s text, and refused at 0). Any floor from 0.01 to 0.045 answers
# the measured sets alike (one under 0.01 would also refuse "can you keep a secret?" on the
# starter's names and descriptions: 0.0099 nearer; too close to a tie to count on).
DESCRIPTION_QUANTILE = 0.95
DESCRIPTION_SLACK = 0.23
GENERIC_MARGIN_FLOOR = 0.02
# Under the margin, a request whose nearest neighbour is a generic request is still refused
# when its neighbourhood is everyday talk: of its EVERYDAY_NEIGHBOURS nearest neighbours, among
# the generic requests and the catalog's tools (each tool by its nearest text), the generic
# requests' share is at least halfway from what a neighbourhood drawn at random would hold
# (G / (G + N), G generic requests and N tools) to all of them (gate.everyday): a kNN test
# read against the catalog's size, so a catalog of 16 tools (a random neighbourhood 89 %
# generic) needs all 15 neighbours generic, MetaTool's 199 tools 11 of 15, 1,601 manual pages
# 9. A chatty request lands among many generic requests at once ("can you keep a secret?"
# beside "what's your name?", "do you dream?", ...); a chatty request for a tool lands beside
# that tool and its neighbours. Measured (docs/performance.md, session 15 `refusal`): MetaTool
# 2,000, chit-chat refused 26 -> 30 of 30 for 9 in-scope requests newly refused (5 of them
# decided right); 10 to 20 neighbours refuse 30 of 30 for 9-12; the starter catalog (with and
# without examples) and the manual pages lose no in-scope request, and none of the four
# catalogs' own descriptions, taken as requests, would be refused.
EVERYDAY_NEIGHBOURS = 15
# The nearest neighbour need not be a generic request in a catalog whose own texts sit far from
# everyday talk: the test also judges a request up to GENERIC_MARGIN - generic_margin nearer to
# a tool than to any generic request (Calibration.everyday_allowance; 0 for a catalog as loose
# as MetaTool, whose in-scope requests read as chatty as chit-chat, up to 0.1 for the starter
# catalog with its examples). "can you keep a secret?" lands beside the one tool that holds
# secrets, then among a dozen generic requests ("what's your name?", "do you dream?", ...).
# Measured (docs/performance.md, session 16 `abstain13`): chit-chat refused on the starter
# catalog 29 -> 30 of 30 (vault, 0.039 nearer), the manual pages 27 -> 28 (gpg_agent, 0.011);
# none of 2,263 in-scope requests of five catalogs newly refused; the nearest call is `--terse`
# "who logged into bastion01 over the weekend" (0.031 nearer to a tool, 10 of the 11 generic
# neighbours it would take).


def data_lines(path: Path) -> tuple[str, ...]:
    """The lines of a shipped data file (selection/data/), without blanks and # comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(t.strip() for t in lines if t.strip() and not t.startswith("#"))


# Everyday talk in the words of technology (data/everyday_talk.txt: "this meeting could have
# been an email", "my brain is buffering") joins the generic requests as neighbours, not as
# negatives: figurative talk ("what's the password to your heart?") lands beside the tool whose
# word it borrows, among no generic request, and nothing in the cosines tells it from a request
# for that tool but a neighbour of the same kind. Measured on the threshold and margin it would
# loosen them (a tight catalog's margin 0.02 -> 0.1: its texts are nearer to these lines than
# to other everyday talk). They are neighbours (of the margin's nearest neighbour and of the
# kNN test) only in a catalog far from everyday talk (Calibration.neighbours). Measured
# (docs/performance.md, session 17 `refuse13`), figurative chit-chat refused: starter 25 -> 27
# of 30, `--terse` 27 -> 29, manual pages 24 -> 28, standard library 28 -> 29; on a held-out
# set written before: `--terse` 27 -> 29 of 40, manual pages 29 -> 32, standard library 33 ->
# 35, starter 38. Cost: `--terse` "db5's clock has wandered off by a few minutes, is ntp even
# working" (held-out colloquial) refused. As neighbours in MetaTool too, they refused 3 of its
# 2,000 in-scope requests ("There seems to be a memory leak on my server") for 2 more lines;
# as the margin's there, 10 ("My smartphone broke and I need a replacement").


@cache
def generic_requests() -> tuple[str, ...]:
    """The shipped generic requests: the negatives that calibrate the threshold and margin."""
    return data_lines(GENERIC_REQUESTS)


@cache
def neighbour_requests() -> tuple[str, ...]:
    """The generic requests, then the everyday talk in the words of technology
    (data/everyday_talk.txt): the neighbours of the nearest-neighbour tests. Only the first
    len(generic_requests()) calibrate (see calibrate)."""
    return generic_requests() + data_lines(EVERYDAY_TALK)


@dataclass(frozen=True, slots=True)
class Calibration:
    threshold: float  # best cosine under which a request is refused
    corroborate: bool  # below threshold + CORROBORATION_MARGIN, lexical evidence is needed
    semantic_share: float  # the semantic share of fused relevance
    probes: int  # in-scope probes (examples) measured
    probe_refusal: float | None  # share of probes the threshold refuses
    negative_refusal: float  # share of the generic requests it refuses
    # the embedded generic requests (unit rows), for the nearest-neighbour test
    negatives: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)
    # how much nearer to a generic request than to the catalog a request may be (see
    # GENERIC_MARGIN and _generic_margin)
    generic_margin: float = GENERIC_MARGIN
    # the semantic side's constant span (SEMANTIC_SPAN_WITHOUT), or None: each request's own
    semantic_span: float | None = None
    # how many of `negatives`, first, are generic requests proper (None: all); the rest are
    # everyday talk in the words of technology (neighbour_requests), neighbours in a tight
    # catalog only (see `neighbours`)
    calibrating: int | None = None

    def generic_cosine(self, query: npt.NDArray[np.float32]) -> float | None:
        """The request's best cosine to one of its `neighbours` (None without them): what the
        margin compares (`generic_margin`)."""
        nearest = self.generic_nearest(query)
        return None if nearest is None else float(nearest[0])

    def generic_nearest(self, query: npt.NDArray[np.float32]) -> FloatArray | None:
        """The request's cosines to its EVERYDAY_NEIGHBOURS nearest `neighbours` (all of them
        when fewer), best first; None without them."""
        neighbours = self.neighbours
        if neighbours is None or not len(neighbours):
            return None
        cosines = (neighbours @ query).astype(np.float64)
        if len(cosines) > EVERYDAY_NEIGHBOURS:
            cosines = np.partition(cosines, -EVERYDAY_NEIGHBOURS)[-EVERYDAY_NEIGHBOURS:]
        nearest: FloatArray = np.sort(cosines)[::-1]
        return nearest

    @property
    def neighbours(self) -> npt.NDArray[np.float32] | None:
        """The generic requests the nearest-neighbour tests compare a request with: all of
        `negatives`, the everyday talk included, in a catalog whose texts sit far from
        everyday talk (`everyday_allowance` > 0: a request nearest to an everyday line is no
        request for it); only the generic requests proper in one as near to it as
        MetaTool's consumer plugins, whose requests share their topics with everyday talk
        ("my old phone still works perfectly fine" beside "my smartphone broke, recommend a
        replacement")."""
        if self.negatives is None or self.everyday_allowance > 0:
            return self.negatives
        return self.negatives[: self.calibrating]

    @property
    def everyday_allowance(self) -> float:
        """How much nearer to a tool than to any generic request a request judged by its
        neighbourhood (gate.everyday) may be: GENERIC_MARGIN less the catalog's margin."""
        return max(0.0, GENERIC_MARGIN - self.generic_margin)

    def confidence(
        self, cosine: FloatArray, generic: float | None = None, everyday: bool = False
    ) -> FloatArray:
        """Absolute relevance (0..1) of best cosines: 0.5 at the threshold, or, for a request
        whose best cosine to a generic request is `generic`, at that less GENERIC_MARGIN
        (generic_margin) when higher, and at `generic` itself when the request's neighbourhood
        is `everyday` talk (gate.everyday), or at the best of `cosine` when that is higher; so a
        request refused as chit-chat shows no tool above 0.5."""
        margin = 0.0 if everyday else self.generic_margin
        floor = self.threshold if generic is None else max(self.threshold, generic - margin)
        if everyday and len(cosine):
            floor = max(floor, float(np.max(cosine)))
        z = np.clip((cosine - floor) / CONFIDENCE_WIDTH, -30.0, 30.0)
        out: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return out

    def describe(self) -> str:
        probes = (
            f"{self.probes} examples as in-scope probes ({self.probe_refusal:.1%} refused)"
            if self.probe_refusal is not None
            else "no examples to probe with (threshold from the descriptions' neighbours)"
        )
        return (
            f"threshold {self.threshold:.3f}: {probes}; "
            f"{self.negative_refusal:.1%} of generic requests refused; "
            f"generic margin {self.generic_margin:.3f}, "
            f"everyday allowance {self.everyday_allowance:.3f}"
        )


def _description_rows(kinds: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The rows of tool descriptions, at most MAX_PROBES of them, evenly spread."""
    rows = np.flatnonzero(kinds == DESCRIPTION_KIND)
    if len(rows) > MAX_PROBES:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_PROBES).astype(np.int64)]
    return rows


def _generic_margin(
    probes: npt.NDArray[np.float32], probe_best: FloatArray, negatives: npt.NDArray[np.float32]
) -> float:
    """The margin of the nearest-neighbour test for a catalog with examples: the
    (1 - GENERIC_PROBE_REFUSAL) quantile of how much nearer each example is to a generic
    request than to another text of the catalog, kept between 0 (a request nearer to a
    generic request than to any text of the catalog is refused) and GENERIC_MARGIN."""
    if not len(negatives):
        return GENERIC_MARGIN
    lead = (probes @ negatives.T).max(axis=1) - probe_best
    return float(np.clip(np.quantile(lead, 1.0 - GENERIC_PROBE_REFUSAL), 0.0, GENERIC_MARGIN))


def _description_margin(
    descriptions: npt.NDArray[np.float32],
    neighbours: FloatArray,
    negatives: npt.NDArray[np.float32],
) -> float:
    """The margin of the nearest-neighbour test for a catalog without examples: how much
    nearer each description is to a generic request than to another tool's text, at
    DESCRIPTION_QUANTILE, plus DESCRIPTION_SLACK, kept between GENERIC_MARGIN_FLOOR and
    GENERIC_MARGIN."""
    if not len(negatives) or not len(neighbours):
        return GENERIC_MARGIN
    lead = (descriptions @ negatives.T).max(axis=1) - neighbours
    margin = float(np.quantile(lead, DESCRIPTION_QUANTILE)) + DESCRIPTION_SLACK
    return float(np.clip(margin, GENERIC_MARGIN_FLOOR, GENERIC_MARGIN))


def calibrate(
    vectors: npt.NDArray[np.float32] | TextRows,
    kinds: npt.NDArray[np.int64],
    negatives: npt.NDArray[np.float32],
    owners: npt.NDArray[np.int64] | None = None,
    calibrating: int | None = None,
) -> Calibration:
    """The calibration of a catalog whose texts are `vectors` (unit rows, or read a block at
    a time: best_cosines.py) of `kinds` (see semantic.KINDS), against the embedded generic
    requests `negatives`: all of them are the neighbours of the nearest-neighbour tests,
    their first `calibrating` (all when None) what the threshold and margin are measured on."""
    texts = HeldRows(vectors) if isinstance(vectors, np.ndarray) else vectors
    measured = negatives[:calibrating]
    if len(texts) == 0:
        return Calibration(
            1.0,
            False,
            SEMANTIC_SHARE_WITHOUT,
            0,
            None,
            1.0,
            negatives,
            semantic_span=SEMANTIC_SPAN_WITHOUT,
            calibrating=calibrating,
        )
    examples = np.flatnonzero(kinds == EXAMPLE_KIND)
    if len(examples) > MAX_PROBES:
        examples = examples[np.linspace(0, len(examples) - 1, MAX_PROBES).astype(np.int64)]
    if len(examples) < MIN_PROBES:
        examples = examples[:0]
    rows = examples[:0]  # without probes: the descriptions, near texts of other tools
    if not len(examples) and owners is not None and len(np.unique(owners)) >= 2:
        rows = _description_rows(kinds)
    probes, descriptions = texts.take(examples), texts.take(rows)
    tools = None if owners is None else (owners, owners[rows])
    best = best_cosines(texts, measured, probes, descriptions, tools)
    negative_best = best.negatives
    ceiling = float(np.quantile(negative_best, NEGATIVE_QUANTILE))
    if len(examples):
        probe_best = best.probes
        # The highest threshold refusing at most IN_SCOPE_REFUSAL of the probes.
        allowed = math.floor(IN_SCOPE_REFUSAL * len(probe_best))
        floor = float(np.sort(probe_best)[allowed])
        threshold = min(floor, ceiling)
        return Calibration(
            threshold,
            True,
            SEMANTIC_SHARE_WITH_EXAMPLES,
            len(probe_best),
            float(np.mean(probe_best < threshold)),
            float(np.mean(negative_best < threshold)),
            negatives,
            _generic_margin(probes, probe_best, measured),
            calibrating=calibrating,
        )
    median = float(np.quantile(negative_best, NO_PROBES_QUANTILE))
    threshold, margin = median, GENERIC_MARGIN
    neighbours = best.descriptions
    if len(neighbours):
        reach = float(np.quantile(neighbours, NEIGHBOUR_QUANTILE)) - NEIGHBOUR_MARGIN
        threshold = min(max(reach, median), ceiling)
        margin = _description_margin(descriptions, neighbours, measured)
    return Calibration(
        threshold,
        False,
        SEMANTIC_SHARE_WITHOUT,
        0,
        None,
        float(np.mean(negative_best < threshold)),
        negatives,
        margin,
        SEMANTIC_SPAN_WITHOUT,
        calibrating,
    )
