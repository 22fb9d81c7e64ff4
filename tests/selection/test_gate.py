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
        generic_cosine=0.2,
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
