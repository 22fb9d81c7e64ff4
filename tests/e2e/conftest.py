"""Fixtures of the end-to-end tests: servers and a stoppable PostgreSQL, always cleaned up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from e2e_processes import Servers, StoppablePostgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
async def stoppable_pg() -> AsyncIterator[StoppablePostgres]:
    server = await asyncio.to_thread(StoppablePostgres)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.close)
