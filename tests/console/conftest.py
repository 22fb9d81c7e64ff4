"""Fixtures of the console tests: the real app over a runtime pinned to the test's
rolled-back transaction, a browser-like client keeping cookies, and keys of every role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import make_settings
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store.database import Database

from .support import BASE, ClientFactory


@pytest.fixture
async def runtime(settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, db=db, listen=False, migrate=False) as opened:
        yield opened


@pytest.fixture
async def browser(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does, calling from another machine."""
    transport = httpx.ASGITransport(app=create_app(runtime), client=("10.0.0.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def secrets(db: Database) -> dict[str, str]:
    service = ApiKeyService(db)
    return {
        role.value: (await service.create(f"console-{role.value}", role)).secret for role in Role
    }


@pytest.fixture
def make_browser(conn: Any, module_db_url: str, tmp_path: Path) -> ClientFactory:
    """A browser over the same pinned connection with other settings (`auth="required"`)."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(module_db_url, tmp_path, **overrides)
        db = Database.pinned_to(settings, conn)
        async with open_runtime(settings, db=db, listen=False, migrate=False) as opened:
            transport = httpx.ASGITransport(app=create_app(opened), client=("10.0.0.7", 5555))
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                yield client

    return make
