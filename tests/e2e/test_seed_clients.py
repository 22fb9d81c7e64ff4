"""The seed platform's API check against a real `toolcatalog serve` over the network: the
starter catalog imported at start, the seed's contract on /api/v1/tools, keyless writes from
this machine (the development setting, announced in the log)."""

from __future__ import annotations

from pathlib import Path

import httpx
from e2e_processes import Servers

from api.support import run_seed_check

STARTER = Path(__file__).resolve().parents[2] / "catalog"


async def test_the_seed_check_passes_against_a_real_server(
    servers: Servers, fresh_db_url: str
) -> None:
    server = servers.start(
        {
            "DATABASE_URL": fresh_db_url,
            "TOOLCATALOG_CATALOG_DIR": str(STARTER),
            "TOOLCATALOG_IMPORT_ON_START": "true",
            "TOOLCATALOG_SEMANTIC": "false",
            "TOOLCATALOG_OPSCONDUCTOR_API": "true",
            "TOOLCATALOG_DEV_KEYLESS_LOOPBACK_WRITES": "true",
        }
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await run_seed_check(client, "/api/v1/tools", {})
        native = await client.get("/native/api/v1/tools", params={"limit": 1})
        assert native.status_code == 200
        assert "items" in native.json()
    assert "TOOLCATALOG_DEV_KEYLESS_LOOPBACK_WRITES is on" in server.logs()
