"""The simulation of issue 17 on real PostgreSQL: a synthetic environment where one pattern's
real duration is 10x its declaration. Outcome events go through the telemetry service into
the hourly rollups, the refresher brings the observed profiles into the selector, and the
selector's choice for an interactive request changes once the evidence is strong enough."""

from __future__ import annotations

from typing import Any

import httpx

from toolcatalog.catalog.writes import Actor
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime

SELECT = "/api/v1/select"
QUESTION = "how full is the disk?"  # a question under the default preference: interactive
TEXT = "Reports used and free disk space per filesystem, how full each disk is."


def disk_tool(name: str, pattern: str, time_ms: float) -> Tool:
    return Tool.model_validate(
        {
            "name": name,
            "version": "1.0.0",
            "description": TEXT,
            "platform": "linux",
            "category": "storage",
            "tags": ["disk"],
            "capabilities": [
                {
                    "name": "disk_usage",
                    "description": "Disk space used and free.",
                    "patterns": [
                        {
                            "name": pattern,
                            "description": "Disk space of every filesystem.",
                            "effect": "read",
                            "profile": {
                                "time_estimate_ms": time_ms,
                                "cost_estimate": 1,
                                "accuracy": 0.9,
                                "completeness": 0.8,
                                "complexity": 0.2,
                            },
                            "policy": {"production_safe": True},
                        }
                    ],
                }
            ],
            "examples": ["how full is the disk", "how much space is left"],
        }
    )


async def simulated_catalog(runtime: Runtime) -> None:
    """Two equally fitting tools: fastdisk declares 800 ms (really 8,000), slowdisk 2,000."""
    await runtime.catalog.import_definitions(
        [disk_tool("fastdisk", "summary", 800), disk_tool("slowdisk", "table", 2000)],
        actor=Actor("simulation"),
    )


def runs(count: int, duration_ms: float) -> list[dict[str, Any]]:
    return [
        {
            "tool": "fastdisk",
            "capability": "disk_usage",
            "pattern": "summary",
            "duration_ms": duration_ms,
            "success": True,
        }
        for _ in range(count)
    ]


async def decided(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    body = (await client.post(SELECT, json={"request": QUESTION})).json()
    fast = next(c for c in body["candidates"] if c["tool"] == "fastdisk")
    return body["decision"]["tool"], fast["estimates"]


async def test_a_pattern_ten_times_slower_than_declared_loses_the_interactive_request(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await simulated_catalog(runtime)
    tool, estimates = await decided(client)
    assert tool == "fastdisk"
    assert estimates["source"] == "declared"

    # A few runs are not evidence: the declaration stands.
    await runtime.telemetry.ingest(runs(3, 8000), reporter="simulation")
    await runtime.learning.refresh()
    tool, estimates = await decided(client)
    assert (tool, estimates["source"], estimates["samples"]) == ("fastdisk", "declared", 3)

    # 40 runs at 8,000 ms: w = 40 / 60, the estimate moves to ~3,700 ms, over slowdisk's 2,000.
    await runtime.telemetry.ingest(runs(37, 8000), reporter="simulation")
    await runtime.learning.refresh()
    tool, estimates = await decided(client)
    assert tool == "slowdisk"
    assert estimates["source"] == "blended"
    assert estimates["samples"] == 40
    assert 3000 < estimates["time_ms"] < 4500
    assert estimates["declared_time_ms"] == 800
