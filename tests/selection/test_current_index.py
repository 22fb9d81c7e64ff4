"""The pacing of the selector's background index builds (selection/current_index.py)."""

from __future__ import annotations

import pytest

from toolcatalog.selection.current_index import REBUILD_INTERVAL_S, REBUILD_PAUSE_S, rebuild_pause


def test_background_builds_start_at_most_once_an_interval_and_pause_after_long_ones() -> None:
    assert rebuild_pause(0.05) == pytest.approx(REBUILD_INTERVAL_S - 0.05)
    assert rebuild_pause(REBUILD_INTERVAL_S) == REBUILD_PAUSE_S
    assert rebuild_pause(5.0) == REBUILD_PAUSE_S
    # Under a stream of writes the index is at most about a second behind the catalog.
    assert REBUILD_INTERVAL_S + REBUILD_PAUSE_S <= 1.0
