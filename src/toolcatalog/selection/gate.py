"""Stage 3, gate: is any tool about the request at all (else "no tool handles this"), and is
the best allowed tool close enough to the most relevant one to be decided on (else "no
allowed tool")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.arrays import FloatArray
from toolcatalog.selection.calibrate import (
    CORROBORATION_MARGIN,
    EVERYDAY_NEIGHBOURS,
)
from toolcatalog.selection.retrieve import Pool

# With embeddings and the catalog's calibration (calibrate.py), a request is about the catalog
# when its best cosine reaches the calibrated threshold, with lexical corroboration (below)
# near it where the calibration asks for it, and when it is not nearer to one of the generic
# requests than to any tool text (Calibration.generic_margin). Without a calibration (an engine
# that gives none), the constants measured on the starter catalog apply.
# With embeddings, a request is about the catalog when the lexical test passes and some tool
# text is at least SEMANTIC_RELEVANT close, or any is SEMANTIC_SURE close (a margin above every
# out-of-scope request). Measured: in-scope requests' best cosine is >= 0.42 for all but one
# of 180 (0.33, "which OU is mlopez in, and what's her pwdLastSet?"); out-of-scope requests'
# is under 0.38 but for one (0.44, "book a flight to tokyo", whose lexical test then fails).
SEMANTIC_RELEVANT = 0.4
SEMANTIC_SURE = 0.55

# Is a tool about the request at all? Measured on the dev set and on out-of-domain requests
# (weather, recipes, travel): unrelated requests touch one catalog word by accident ("writ",
# "tomorrow") and cover under 0.35 of the request; real ones cover more, or match two words.
MIN_COVERAGE = 0.2
MIN_SINGLE_WORD_COVERAGE = 0.3
# ...and its score must reach this share of the most it could score (every content word
# matched and saturated): coverage says how much of the request a tool touches, strength how
# firmly. Out-of-scope requests touch catalog words once each, in passing ("next", "good").
# Measured on 180 in-scope and 34 out-of-scope requests (bench/data): 0.15 refuses 5 more
# out-of-scope requests and wrongly refuses 1 in-scope one (0.2: 8 more, 2 wrongly).
MIN_STRENGTH = 0.15
# When policy removed the most relevant tools, the best allowed one must still reach this share
# of their relevance, or the honest answer is "no allowed tool", not a far-fetched substitute.
MIN_RELATIVE_RELEVANCE = 0.35


@dataclass(frozen=True, slots=True)
class Verdict:
    relevant: bool  # some pooled tool is about the request
    decidable: bool  # ...and the best allowed one is near the most relevant


def about_request(
    coverage: npt.NDArray[np.float64],
    matches: npt.NDArray[np.float64],
    strength: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    broad = (coverage >= MIN_COVERAGE) & ((matches >= 2) | (coverage >= MIN_SINGLE_WORD_COVERAGE))
    return broad & (strength >= MIN_STRENGTH)


def everyday(pool: Pool) -> bool:
    """Is the request's neighbourhood everyday talk (calibrate.EVERYDAY_NEIGHBOURS), with its
    nearest generic request at most the catalog's allowance (calibrate.everyday_allowance)
    less near than its nearest tool?"""
    nearest, tools, best = pool.generic_nearest, pool.tool_cosine, pool.semantic_best
    calibration = pool.calibration
    if nearest is None or tools is None or best is None or calibration is None:
        return False
    neighbours = calibration.neighbours  # the generic requests nearest was drawn from
    if neighbours is None or not nearest[0] > best - calibration.everyday_allowance:
        return False
    return _mostly_generic(nearest, len(neighbours), tools)


def _mostly_generic(nearest: FloatArray, generic: int, tools: FloatArray) -> bool:
    """Of the EVERYDAY_NEIGHBOURS nearest neighbours among `generic` generic requests (the
    nearest's cosines, best first) and the tools (their best cosines, `tools`), are the
    generic requests a share at least halfway from a random neighbourhood's to all? Counted
    without a sort: `need` of them are among the nearest when the need-th generic request is
    nearer than the (EVERYDAY_NEIGHBOURS - need + 1)-th tool (a partition of the tools'
    cosines, done only for a request whose nearest neighbour is a generic request). Tools
    outside the pool have their cosines within the scan's bound (fusion.fuse)."""
    share = (1.0 + generic / (generic + len(tools))) / 2.0
    need = math.ceil(share * EVERYDAY_NEIGHBOURS - 1e-9)
    rank = EVERYDAY_NEIGHBOURS - need + 1  # of the tool the need-th generic must beat
    if len(nearest) < need:
        return False
    if len(tools) < rank:
        return True
    tool = float(np.partition(tools, -rank)[-rank])
    return bool(nearest[need - 1] > tool)


def gate(
    pool: Pool, best_allowed_relevance: float | None, everyday_talk: bool | None = None
) -> Verdict:
    """The verdict on `pool`; `best_allowed_relevance` is the relevance of the best tool
    policy allows (None when it allows none); `everyday_talk` is `everyday(pool)` when the
    caller has it already (judged here when None)."""
    mass = pool.retrieval.mass
    order = pool.order  # only the pool's tools are judged: the rest never reach a decision
    raw = pool.raw[order]
    strength = raw / mass if mass > 0 else np.zeros_like(raw)
    about = about_request(pool.coverage[order], pool.matches[order], strength)
    if pool.vouched is not None:
        about = about | pool.vouched[order]
    relevant = bool(np.any(about)) if len(order) else False
    best, calibration = pool.semantic_best, pool.calibration
    if best is not None and calibration is not None:
        sure = best >= calibration.threshold + CORROBORATION_MARGIN
        # A request holding names the encoder cannot read (request_names.name_holders) is partly
        # invisible to its cosine: lexical evidence then carries it from CORROBORATION_MARGIN
        # under the threshold, as the cosine alone does from as far above it.
        reach = calibration.threshold - (CORROBORATION_MARGIN if pool.names else 0.0)
        relevant = (best >= calibration.threshold and (sure or not calibration.corroborate)) or (
            best >= reach and relevant
        )
        generic = pool.generic_cosine
        over = generic is not None and generic > best + calibration.generic_margin
        if everyday_talk is None:
            everyday_talk = everyday(pool)
        if over or everyday_talk:  # nearer to everyday talk than to the catalog
            relevant = False
    elif best is not None:
        relevant = (relevant and best >= SEMANTIC_RELEVANT) or best >= SEMANTIC_SURE
    if pool.unreadable:  # words nothing knows: the embedding is noise (spelling.py)
        relevant = False
    decidable = (
        relevant
        and best_allowed_relevance is not None
        and best_allowed_relevance >= MIN_RELATIVE_RELEVANCE
    )
    return Verdict(relevant, decidable)
