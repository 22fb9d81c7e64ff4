"""Fixtures of the API tests: the real ASGI app over a runtime pinned to the test's
rolled-back transaction, and API keys of every role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import make_settings
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store.database import Database

from .support import ClientFactory, Keys, client_for


@pytest.fixture
async def runtime(settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, db=db, listen=False, migrate=False) as opened:
        yield opened


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(runtime) as c:
        yield c


@pytest.fixture
async def keys(db: Database) -> Keys:
    service = ApiKeyService(db)
    made = {role: await service.create(f"test-{role.value}", role) for role in Role}
    return Keys(
        reader={"Authorization": f"Bearer {made[Role.reader].secret}"},
        editor={"Authorization": f"Bearer {made[Role.editor].secret}"},
        admin={"X-API-Key": made[Role.admin].secret},
        none={},
        reporter={"Authorization": f"Bearer {made[Role.reporter].secret}"},
    )


@pytest.fixture
def make_client(conn: Any, module_db_url: str, tmp_path: Path) -> ClientFactory:
    """A client over the same pinned connection with other settings
    (`require_if_match=True`, `auth="required"`, ...), calling from `address`."""

    @asynccontextmanager
    async def make(
        address: tuple[str, int] = ("127.0.0.1", 123), **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(module_db_url, tmp_path, **overrides)
        db = Database.pinned_to(settings, conn)
        async with (
            open_runtime(settings, db=db, listen=False, migrate=False) as opened,
            client_for(opened, address) as c,
        ):
            yield c

    return make
