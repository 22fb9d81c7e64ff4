"""The gate (selection/gate.py) on pools built by hand: the calibrated threshold, lexical
corroboration near it, and names the encoder cannot read."""

from __future__ import annotations

import numpy as np

from toolcatalog.selection.calibrate import CORROBORATION_MARGIN, Calibration
from toolcatalog.selection.gate import gate
from toolcatalog.selection.retrieval import Retrieval
from toolcatalog.selection.retrieve import Pool

THRESHOLD = 0.4


def _pool(best: float, *, lexical: bool, names: bool, corroborate: bool = True) -> Pool:
    """One pooled tool whose best cosine is `best`, that the request's words cover well
    (`lexical`) or not at all, for a request that holds names the tool has (`names`)."""
    covered = np.array([0.6 if lexical else 0.0])
    retrieval = Retrieval(covered * 3, covered, covered * 4, {}, 3.0, {})
    return Pool(
        retrieval,
        raw=covered * 3,
        coverage=covered,
        matches=covered * 4,
        world=np.array([True]),
        order=np.array([0], dtype=np.int64),
        relevance=np.array([1.0]),
        capabilities=frozenset(),
        semantic_best=best,
        tool_cosine=np.array([best]),
        calibration=Calibration(THRESHOLD, corroborate, 0.5, 0, None, 0.9),
        vouched=np.array([names]),
        generic_nearest=np.array([0.2]),
        names=names,
    )


def test_near_the_threshold_lexical_evidence_is_needed_where_the_calibration_asks() -> None:
    assert gate(_pool(THRESHOLD + 0.05, lexical=True, names=False), 1.0).relevant
    assert not gate(_pool(THRESHOLD + 0.05, lexical=False, names=False), 1.0).relevant
    assert gate(_pool(THRESHOLD + CORROBORATION_MARGIN + 0.01, lexical=False, names=False), 1.0)
    assert not gate(_pool(THRESHOLD - 0.05, lexical=True, names=False), 1.0).relevant


def test_a_name_the_catalog_holds_but_the_encoder_cannot_read_reaches_under_the_threshold() -> None:
    # The request's cosine misses the name ("NotReady" in pieces): the tools holding it
    # count as about the request, from CORROBORATION_MARGIN under the threshold.
    for corroborate in (True, False):
        under = _pool(THRESHOLD - 0.05, lexical=False, names=True, corroborate=corroborate)
        assert gate(under, 1.0).relevant
        far = _pool(
            THRESHOLD - CORROBORATION_MARGIN - 0.01,
            lexical=True,
            names=True,
            corroborate=corroborate,
        )
        assert not gate(far, 1.0).relevant


def _chatty_pool(
    tools: np.ndarray, generic: np.ndarray, negatives: int = 132, margin: float = 0.1
) -> Pool:
    """A pool whose request has best tool cosines `tools` and generic cosines `generic`
    (best first), under a calibration of `negatives` generic requests whose `margin` the
    request's lead stays under."""
    count = len(tools)
    covered = np.full(count, 0.6)
    retrieval = Retrieval(covered * 3, covered, covered * 4, {}, 3.0, {})
    calibration = Calibration(
        0.2, False, 0.65, 0, None, 0.5, np.zeros((negatives, 4), dtype=np.float32), margin
    )
    return Pool(
        retrieval,
        raw=covered * 3,
        coverage=covered,
        matches=covered * 4,
        world=np.ones(count, dtype=bool),
        order=np.arange(count, dtype=np.int64),
        relevance=np.ones(count),
        capabilities=frozenset(),
        semantic_best=float(tools.max()),
        tool_cosine=tools,
        calibration=calibration,
        vouched=np.zeros(count, dtype=bool),
        generic_nearest=generic,
    )


def test_a_request_among_generic_requests_is_refused_under_the_margin() -> None:
    # 200 tools, one at 0.40 and the rest at 0.30; the request's nearest generic request is
    # 0.45, under best + margin, so only its neighbourhood can refuse it.
    tools = np.r_[0.40, np.full(199, 0.30)]
    crowded = np.full(15, 0.44)
    crowded[0] = 0.45
    assert not gate(_chatty_pool(tools, crowded), 1.0).relevant
    # The same nearest generic request alone (the others far): the tools are its neighbours.
    alone = np.r_[0.45, np.full(14, 0.10)]
    assert gate(_chatty_pool(tools, alone), 1.0).relevant
    # Nearer to a tool than to any generic request: no neighbourhood test at all.
    below = np.full(15, 0.39)
    assert gate(_chatty_pool(tools, below), 1.0).relevant
    # The caller's own judgement of the neighbourhood (candidates.py judges it once) stands.
    assert not gate(_chatty_pool(tools, alone), 1.0, everyday_talk=True).relevant
    assert gate(_chatty_pool(tools, crowded), 1.0, everyday_talk=False).relevant


def test_the_neighbourhood_is_read_against_the_catalogs_size() -> None:
    # 16 tools beside 132 generic requests: a neighbourhood drawn at random is 89 % generic,
    # so all 15 nearest must be generic requests to refuse.
    tools = np.r_[0.40, np.full(15, 0.30)]
    fourteen = np.r_[np.full(14, 0.45), 0.25]  # the 15th generic request under the tools
    assert gate(_chatty_pool(tools, fourteen), 1.0).relevant
    fifteen = np.full(15, 0.45)
    assert not gate(_chatty_pool(tools, fifteen), 1.0).relevant
    # 200 tools: 11 of 15 are enough (halfway from 40 % to all), 10 are not.
    many = np.r_[0.40, np.full(3, 0.35), np.full(196, 0.30)]
    eleven = np.r_[np.full(11, 0.45), np.full(4, 0.10)]
    assert not gate(_chatty_pool(many, eleven), 1.0).relevant
    ten = np.r_[np.full(10, 0.45), np.full(5, 0.10)]
    assert gate(_chatty_pool(many, ten), 1.0).relevant


def test_a_tight_catalog_also_judges_the_neighbourhood_of_a_request_nearest_to_a_tool() -> None:
    # "can you keep a secret?" beside the one tool that keeps secrets, then among a dozen
    # generic requests: nearest to a tool by 0.02.
    tools = np.r_[0.47, np.full(199, 0.30)]
    crowded = np.full(15, 0.45)
    # A catalog as loose as everyday talk (margin GENERIC_MARGIN): its requests read as
    # chatty, so a tool nearest keeps the request.
    assert gate(_chatty_pool(tools, crowded, margin=0.1), 1.0).relevant
    # A tight one (margin 0.02): allowed 0.08 nearer to a tool, the neighbourhood refuses it.
    assert not gate(_chatty_pool(tools, crowded, margin=0.02), 1.0).relevant
    # ...but not a request its tool is nearer to by more than that.
    near = np.r_[0.56, np.full(199, 0.30)]
    assert gate(_chatty_pool(near, crowded, margin=0.02), 1.0).relevant
    # Nor one among tools: 4 generic requests of its 15 nearest neighbours.
    alone = np.r_[np.full(4, 0.45), np.full(11, 0.10)]
    among = np.r_[0.47, np.full(15, 0.44), np.full(184, 0.30)]
    assert gate(_chatty_pool(among, alone, margin=0.02), 1.0).relevant


def test_a_request_refused_by_its_neighbourhood_shows_no_tool_above_one_half() -> None:
    calibration = Calibration(0.2, False, 0.65, 0, None, 0.5, None, 0.02)
    shown = calibration.confidence(np.array([0.47, 0.40]), 0.45, everyday=True)
    assert float(shown.max()) <= 0.5
