"""The collector around large builds (catalog/heap.py): what a build froze stays frozen
through the next builds until the frozen set has really grown."""

from __future__ import annotations

import gc

import pytest

from toolcatalog.catalog import heap


@pytest.fixture
def unfreezes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full collections (the heap unfrozen first), from a fresh baseline."""
    calls: list[int] = []
    monkeypatch.setattr(heap, "_frozen_after_full", [0])
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append(1))
    return calls


def test_the_build_after_the_first_does_not_walk_the_whole_heap_again(
    unfreezes: list[int],
) -> None:
    kept = []
    for _ in range(3):  # the catalog version, the selector's index, a rebuild
        with heap.frozen_heap():
            kept.append([[i] for i in range(1000)])
    assert unfreezes == []
    assert gc.isenabled()


def test_a_frozen_set_grown_past_its_limit_is_collected_in_full(
    unfreezes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with heap.frozen_heap():
        pass  # the baseline
    monkeypatch.setattr(heap, "FULL_COLLECT_GROWTH", 0.5)  # as if it had grown past it
    with heap.frozen_heap():
        assert not gc.isenabled()  # paused while building
    assert unfreezes == [1]
