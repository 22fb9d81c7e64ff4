"""Real PostgreSQL for every test: one server per run (embedded, or DATABASE_URL), a template
database migrated once, a database per test module copied from it, and per test an outer
transaction that the service's own transactions nest into (rolled back afterwards)."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from builders import make_settings
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.store.connection_settings import SERVER_SETTINGS, init_connection
from toolcatalog.store.database import Database
from toolcatalog.store.embedded import EmbeddedPostgres
from toolcatalog.store.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]

# Selection in tests is lexical unless a test asks for embeddings (Settings(semantic=True)):
# the default computes them in a background thread of every selector, service and CLI run.
# Set before any Settings is made; subprocesses inherit it.
os.environ["TOOLCATALOG_SEMANTIC"] = "false"

# Local state (the embedded server's data, the catalog snapshot cache) goes to a folder of this
# run, never to the user's ~/.local/share/toolcatalog: a test that builds Settings without `home`,
# or runs the CLI without TOOLCATALOG_HOME, must not read or leave files there. Subprocesses
# inherit it.
_RUN_HOME = tempfile.mkdtemp(prefix="toolcatalog-test-home-")
os.environ["TOOLCATALOG_HOME"] = _RUN_HOME
atexit.register(shutil.rmtree, _RUN_HOME, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    # postgresql://user@host/db?params -> same URL naming another database
    return re.sub(r"(postgres(?:ql)?://[^/]*/)([^?]*)", rf"\g<1>{name}", url, count=1)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a database on the server the whole run uses (maintenance connections)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    folder = Path(tempfile.mkdtemp(prefix="toolcatalog-test-pg-"))
    server = EmbeddedPostgres(folder / "pgdata", cleanup="delete")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def template_db(pg_server_url: str) -> AsyncIterator[str]:
    """A database migrated once, copied for each test module."""
    name = f"tc_tmpl_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(_with_database(pg_server_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _create_copy(pg_server_url: str, template: str) -> str:
    name = f"tc_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return name


async def _drop(pg_server_url: str, name: str) -> None:
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def module_db_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test module."""
    name = await _create_copy(pg_server_url, template_db)
    yield _with_database(pg_server_url, name)
    await _drop(pg_server_url, name)


@pytest.fixture
async def fresh_db_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test that commits (processes, LISTEN/NOTIFY)."""
    name = await _create_copy(pg_server_url, template_db)
    yield _with_database(pg_server_url, name)
    await _drop(pg_server_url, name)


@pytest.fixture
async def second_fresh_db_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """Another fresh, migrated database, for tests that compare two catalogs."""
    name = await _create_copy(pg_server_url, template_db)
    yield _with_database(pg_server_url, name)
    await _drop(pg_server_url, name)


@pytest.fixture
async def empty_db_url(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all (migration tests)."""
    name = f"tc_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(pg_server_url, name)
    await _drop(pg_server_url, name)


@pytest.fixture
def settings(module_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(module_db_url, tmp_path)


@pytest.fixture
async def conn(module_db_url: str) -> AsyncIterator[Any]:
    """A connection inside an outer transaction that is rolled back after the test."""
    connection = await asyncpg.connect(module_db_url, server_settings=SERVER_SETTINGS)
    await init_connection(connection)
    tx = connection.transaction()
    await tx.start()
    try:
        yield connection
    finally:
        await tx.rollback()
        await connection.close()


@pytest.fixture
def db(settings: Settings, conn: Any) -> Database:
    return Database.pinned_to(settings, conn)


@pytest.fixture
def service(db: Database, settings: Settings) -> ToolCatalogService:
    return ToolCatalogService(db, settings)
