"""Fixtures of the end-to-end tests: servers and a stoppable PostgreSQL, always cleaned up."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from e2e_processes import Servers, StoppablePostgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def servers() -> Iterator[Servers]:
    """Their home (logs, and the embedded PostgreSQL of a serve without DATABASE_URL) is a
    fresh folder under the system's temporary directory, not the test's tmp_path: as root,
    pgserver runs PostgreSQL as the `pgserver` user, which must traverse every parent folder,
    and each pytest session that starts beside this one resets /tmp/pytest-of-<user> to mode
    0700. initdb then failed with "Permission denied" (as StoppablePostgres did)."""
    started = Servers(Path(tempfile.mkdtemp(prefix="toolcatalog-e2e-home-")))
    try:
        yield started
    finally:
        started.stop_all()
        shutil.rmtree(started.home, ignore_errors=True)


@pytest.fixture
async def stoppable_pg() -> AsyncIterator[StoppablePostgres]:
    server = await asyncio.to_thread(StoppablePostgres)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.close)
