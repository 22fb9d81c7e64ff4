"""The OpsConductor (seed) platform's own API check, as our test: the same fifteen calls in
the same order, reading the same fields, against the real app on real PostgreSQL with the
starter catalog. Written from the contract (the seed's repository carries no licence).

Two ways a seed client reaches us without a code change: the server setting
TOOLCATALOG_OPSCONDUCTOR_API (its clients call /api/v1/tools, keyless on loopback with the
development setting), or the always-mounted /opsconductor/api/v1/tools with one header.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from builders import starter_definitions
from toolcatalog.catalog.service import Actor
from toolcatalog.runtime import Runtime

from .support import ClientFactory, Keys, run_seed_check

STARTER = Path(__file__).resolve().parents[2] / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


async def import_starter(runtime: Runtime) -> int:
    tools, vocabulary = starter_definitions()
    await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)
    return len(tools)


async def test_the_seed_check_passes_keyless_on_loopback_with_the_two_settings(
    runtime: Runtime, make_client: ClientFactory
) -> None:
    await import_starter(runtime)
    async with make_client(opsconductor_api=True, dev_keyless_loopback_writes=True) as client:
        await run_seed_check(client, "/api/v1/tools", {})


async def test_the_seed_check_passes_on_the_seed_mount_with_one_key_header(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await import_starter(runtime)
    await run_seed_check(client, "/opsconductor/api/v1/tools", keys.admin)
