"""The collector around large builds (catalog/heap.py): what a build froze stays frozen
through the next builds until the frozen set has really grown."""

from __future__ import annotations

import gc
import platform
import sys

import pytest

from builders import make_tool
from toolcatalog.catalog import heap
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.errors import InvalidDefinition


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


async def test_a_large_import_runs_with_the_collector_paused_and_restores_it(
    service: ToolCatalogService,
) -> None:
    tools = [make_tool(f"bulk_tool_{i:04d}") for i in range(1_000)]
    report = await service.import_definitions(tools)
    assert len(report.created) == 1_000
    assert gc.isenabled()

    with pytest.raises(InvalidDefinition):  # refused inside the paused section
        await service.import_definitions([*tools, tools[0]])
    assert gc.isenabled()


def test_free_memory_is_handed_back_where_the_c_library_can() -> None:
    freed = [bytes(4096) for _ in range(10_000)]
    del freed
    assert heap.release_free_memory() is (
        sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    )
