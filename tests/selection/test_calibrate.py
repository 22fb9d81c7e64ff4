"""Abstention calibrated per catalog (selection/calibrate.py): thresholds from the catalog's
own examples and the shipped generic requests, and relevance on that absolute scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.calibrate import (
    IN_SCOPE_REFUSAL,
    NEGATIVE_QUANTILE,
    calibrate,
    generic_requests,
)
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, write_catalog
from .test_embedding import needs_model


def _unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _catalog(examples_per_tool: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """40 tools in 40 directions: a description each, and examples near it."""
    rng = np.random.default_rng(7)
    axes = np.eye(64)[:40]
    rows, kinds = [], []
    for axis in axes:
        rows.append(axis + 0.05 * rng.standard_normal(64))
        kinds.append(0)
        for _ in range(examples_per_tool):
            rows.append(axis + 0.6 * rng.standard_normal(64))
            kinds.append(1)
    return _unit(np.array(rows)), np.array(kinds, dtype=np.int64)


def _negatives() -> npt.NDArray[np.float32]:
    return _unit(np.random.default_rng(8).standard_normal((120, 64)))


def test_with_examples_the_threshold_holds_the_stated_false_refusal_rate() -> None:
    vectors, kinds = _catalog(examples_per_tool=3)
    calibration = calibrate(vectors, kinds, _negatives())
    assert calibration.probes == 120
    assert calibration.probe_refusal is not None
    assert calibration.probe_refusal <= IN_SCOPE_REFUSAL
    negatives = (_negatives() @ vectors.T).max(axis=1)
    assert calibration.threshold <= np.quantile(negatives, NEGATIVE_QUANTILE) + 1e-9
    assert calibration.corroborate


def test_without_examples_the_threshold_is_the_generic_requests_median() -> None:
    vectors, kinds = _catalog(examples_per_tool=0)
    calibration = calibrate(vectors, kinds, _negatives())
    assert calibration.probes == 0
    assert calibration.probe_refusal is None
    assert calibration.negative_refusal == pytest.approx(0.5, abs=0.01)
    assert not calibration.corroborate
    assert "no examples" in calibration.describe()


def test_an_empty_catalog_refuses_everything() -> None:
    empty = np.zeros((0, 64), dtype=np.float32)
    calibration = calibrate(empty, np.zeros(0, dtype=np.int64), _negatives())
    assert calibration.threshold == 1.0


def test_confidence_is_one_half_at_the_threshold_and_monotonic() -> None:
    vectors, kinds = _catalog(examples_per_tool=3)
    calibration = calibrate(vectors, kinds, _negatives())
    t = calibration.threshold
    low, mid, high = calibration.confidence(np.array([t - 0.2, t, t + 0.2]))
    assert mid == pytest.approx(0.5)
    assert low < 0.1 < mid < 0.9 < high


def test_the_shipped_generic_requests_are_many_and_distinct() -> None:
    requests = generic_requests()
    assert len(requests) >= 100
    assert len(set(requests)) == len(requests)


@needs_model
def test_relevance_is_absolute_high_for_a_handled_request_low_for_chit_chat(
    tmp_path: Path,
) -> None:
    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120), selector.semantic_status
    handled = selector.select(SelectionRequest(request="how much disk space is free on web01"))
    assert handled.decision is not None
    assert handled.candidates[0].relevance > 0.5
    chat = selector.select(SelectionRequest(request="my cat is asleep on the sofa"))
    assert chat.decision is None
    assert all(c.relevance < 0.5 for c in chat.candidates)
