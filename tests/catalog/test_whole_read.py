"""The whole catalog read back from the database (the fill at start and after a missed
notice): built fast (stored definitions skip the write-time-only checks), yet equal to the
tools as imported."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from builders import starter_definitions
from toolcatalog.catalog.documents import canonical_definition
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.whole_read import _Abandoned, _rows_of, _streamed
from toolcatalog.model.fields import STORED
from toolcatalog.model.tool import Tool


def starter_tools() -> list[Tool]:
    tools, _ = starter_definitions()  # raises on any problem
    return tools


def test_a_stored_definition_validates_to_the_same_tool_as_a_full_validation() -> None:
    for tool in starter_tools():
        definition = canonical_definition(tool)
        stored = Tool.model_validate(definition, context=STORED)
        assert stored == Tool.model_validate(definition) == tool
        assert stored.model_dump() == tool.model_dump()
        for cap, stored_cap in zip(tool.capabilities, stored.capabilities, strict=True):
            for pattern, stored_pattern in zip(cap.patterns, stored_cap.patterns, strict=True):
                # kept from the full validation, computed afresh for the stored one
                assert pattern.estimates_at_defaults == stored_pattern.estimates_at_defaults


async def test_the_version_read_from_the_database_holds_the_starter_catalog_as_imported(
    service: ToolCatalogService,
) -> None:
    tools = starter_tools()
    await service.import_definitions(tools)
    service.invalidate_all()  # as after a restart: the next read is a whole read

    snapshot = await service.get_all_tools_with_structure()

    assert {t.name: t for t in snapshot.tools} == {t.name: t for t in tools}
    for tool in tools:
        held = await service.get_tool(tool.name)
        assert held.tool == tool
        assert orjson.loads(held.body) == canonical_definition(tool)


async def test_tools_held_share_their_fields_sets_and_still_compare_and_dump_as_before(
    service: ToolCatalogService,
) -> None:
    tools = starter_tools()[:20]
    await service.import_definitions(tools)
    service.invalidate_all()
    held = {t.name: t for t in (await service.get_all_tools_with_structure()).tools}

    sets = {id(t.__pydantic_fields_set__) for t in held.values()}
    assert len(sets) < len(held)  # one set per shape of definition, not one per tool
    for tool in tools:
        assert held[tool.name] == tool
        assert held[tool.name].model_dump() == tool.model_dump()


async def test_rows_streamed_reach_the_build_in_order_with_their_stamps() -> None:
    batches: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
    building = asyncio.ensure_future(asyncio.to_thread(list, _rows_of(batches)))
    rows = [{"name": f"tool_{i}", "stamp": f"1:{i}:e"} for i in range(5)]

    async def stream() -> AsyncIterator[list[Any]]:
        yield rows[:2]
        yield rows[2:]

    stamps: dict[str, str] = {}
    assert await _streamed(stream(), batches, building, stamps) == 5
    assert await building == rows
    assert stamps == {r["name"]: r["stamp"] for r in rows}


async def test_a_read_whose_rows_stop_coming_abandons_its_build() -> None:
    """A fetch that fails half-way (the server gone) must not leave a version of part of the
    catalog, nor the invalid tools of the whole one forgotten: the build raises instead."""
    batches: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
    building = asyncio.ensure_future(asyncio.to_thread(list, _rows_of(batches)))

    async def failing() -> AsyncIterator[list[Any]]:
        yield [{"name": "tool_0", "stamp": "1:1:e"}]
        raise ConnectionError("the server went away")

    with pytest.raises(ConnectionError):
        await _streamed(failing(), batches, building, {})
    with pytest.raises(_Abandoned):
        await building
