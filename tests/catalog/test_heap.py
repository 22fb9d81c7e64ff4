"""The collector around large builds (catalog/heap.py): what a build froze stays frozen
through the next builds until the frozen set has really grown."""

from __future__ import annotations

import gc
import math
import platform
import sys
import threading
from typing import Any

import orjson
import pytest

from builders import make_tool, tool_doc
from toolcatalog.catalog import heap
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.errors import InvalidDefinition
from toolcatalog.model.tool import Tool


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


def test_a_build_is_frozen_before_the_collector_runs_again(unfreezes: list[int]) -> None:
    """Frozen once the collector ran again, the youngest generation held the whole build,
    and the first allocation after the pause collected it (a walk of every object)."""
    with heap.frozen_heap():
        pass  # the baseline
    here = threading.get_ident()
    walks: list[int] = []

    def noted(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and threading.get_ident() == here:
            walks.append(info["generation"])

    built = heap.frozen_heap()
    built.__enter__()
    kept = [[i] for i in range(50_000)]  # many times the youngest generation's threshold
    gc.callbacks.append(noted)
    try:
        built.__exit__(None, None, None)
        after = [[i] for i in range(10)]
    finally:
        gc.callbacks.remove(noted)
    assert walks == []
    assert gc.isenabled()
    assert len(kept) + len(after) == 50_010


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


def _held(name: str, **overrides: Any) -> Tool:
    """A tool as a whole read holds it: decoded from its stored JSON, validated, shared."""
    tool = Tool.model_validate(orjson.loads(orjson.dumps(make_tool(name, **overrides).document())))
    heap.share_fields_sets(tool, from_json=True)
    return tool


def test_held_tools_share_their_equal_values_and_keep_them_equal() -> None:
    inputs = {"type": "object", "properties": {"n": {"type": "integer", "default": 10}}}
    docs = [tool_doc(name) for name in ("one_tool", "two_tool")]
    for doc in docs:
        doc["capabilities"][0]["patterns"][0]["inputs"] = inputs
    one, two = (_held(**d) for d in docs)
    first, second = (t.capabilities[0].patterns[0] for t in (one, two))
    assert first.policy is second.policy
    assert first.profile is second.profile
    assert first.inputs is second.inputs
    assert first.inputs == inputs
    assert first.estimates_at_defaults is second.estimates_at_defaults
    assert one.category is two.category
    assert one.model_dump() == make_tool(**docs[0]).model_dump()


def test_a_dict_read_again_is_the_one_held_and_other_values_are_shared_by_a_walk() -> None:
    metadata = {"owner": {"team": "db", "ids": [1, 2.5, True, None]}, "zero": -0.0}
    one, two = (_held(f"{n}_tool", metadata=metadata) for n in ("one", "two"))
    assert one.metadata is two.metadata  # found by its encoding
    assert one.metadata == metadata
    assert math.copysign(1.0, one.metadata["zero"]) == -1.0
    # Values that JSON does not hold (a tuple, an enum) are shared by the walk, by type.
    shaped = make_tool("three_tool", metadata={"pair": (1, 2)})
    listed = make_tool("four_tool", metadata={"pair": [1, 2]})
    for tool in (shaped, listed):
        heap.share_fields_sets(tool)
    assert type(shaped.metadata["pair"]) is tuple
    assert type(listed.metadata["pair"]) is list


def test_patterns_share_their_equal_private_state_and_keep_its_meaning() -> None:
    # A pattern's private state (whether the definition declared its effect) was a dict per
    # pattern; equal ones are one dict now, and each pattern still answers for itself.
    declared = tool_doc("declared_tool")
    declared["capabilities"][0]["patterns"][0]["effect"] = "read"
    one, two, three = _held("one_tool"), _held("two_tool"), _held(**declared)
    first, second, third = (t.capabilities[0].patterns[0] for t in (one, two, three))
    assert first.__pydantic_private__ is second.__pydantic_private__
    assert third.__pydantic_private__ is not first.__pydantic_private__
    assert (first.effect_declared, second.effect_declared, third.effect_declared) == (
        False,
        False,
        True,
    )
    copied = first.model_copy()
    copied._effect_declared = True
    assert copied.effect_declared
    assert not second.effect_declared


def test_values_equal_only_across_types_are_not_shared() -> None:
    # 1.0, 1 and True are equal in Python, and so are 0.0 and -0.0: a held tool keeps its own.
    metadata: list[dict[str, Any]] = [{"v": 1.0}, {"v": 1}, {"v": True}, {"v": 0.0}, {"v": -0.0}]
    held = [_held(f"meta_{i}_tool", metadata=m) for i, m in enumerate(metadata)]
    for tool, m in zip(held, metadata, strict=True):
        assert type(tool.metadata["v"]) is type(m["v"])
        assert math.copysign(1.0, tool.metadata["v"]) == math.copysign(1.0, m["v"])


async def test_a_patched_tool_shares_its_values_once_shared_beside(
    service: ToolCatalogService,
) -> None:
    """A write's plan hands the new tool to the sharing thread (heap.share_beside) instead
    of sharing its values on the loop; once shared, it holds the fields sets every tool of
    its shape holds."""
    await service.import_definitions([make_tool("first_tool"), make_tool("second_tool")])
    patched = await service.patch_tool("second_tool", {"description": "Patched beside."})
    heap.shared_beside()
    other = _held("other_tool")
    assert patched.tool.description == "Patched beside."
    assert patched.tool.__pydantic_fields_set__ is other.__pydantic_fields_set__
    assert patched.tool.category is other.category
