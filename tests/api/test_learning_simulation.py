"""The simulation of issue 17 on real PostgreSQL.

1. A synthetic environment where one pattern's real duration is 10x its declaration: outcome
   events go through the telemetry service into the hourly rollups, the refresher brings the
   observed profiles into the selector, and the selector's choice for an interactive request
   changes once the evidence is strong enough.
2. An experiment between two weightings, in an environment where the tool one of them picks
   fails far more often: simulated agents (one session each) select, run and report; the
   experiment's report finds the better weighting, significantly, and promoting it makes it
   everyone's."""

from __future__ import annotations

import random
from typing import Any

import httpx

from toolcatalog.catalog.writes import Actor
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime

from .support import Keys

SELECT = "/api/v1/select"
QUESTION = "how full is the disk?"  # a question under the default preference: interactive
TEXT = "Reports used and free disk space per filesystem, how full each disk is."


def disk_tool(name: str, pattern: str, time_ms: float, **profile: float) -> Tool:
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
                            }
                            | profile,
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


NONE = {"speed": 0, "accuracy": 0, "cost": 0, "complexity": 0, "completeness": 0}
EXPERIMENT = {
    "name": "speed-vs-thoroughness",
    "variants": [
        {"name": "speed", "share": 50, "config": {"weights": NONE | {"speed": 1}}},
        {
            "name": "thorough",
            "share": 50,
            "config": {"weights": NONE | {"accuracy": 1, "completeness": 1}},
        },
    ],
}
REPORT = "report disk usage on the server"
# The synthetic environment: how often each tool's run succeeds, and how long it takes.
SUCCESS = {"quicklook": 0.55, "fullscan": 0.95}
DURATION_MS = {"quicklook": 120.0, "fullscan": 2600.0}


async def test_an_experiment_between_two_weightings_finds_the_better_one(
    runtime: Runtime, client: httpx.AsyncClient, keys: Keys
) -> None:
    await runtime.catalog.import_definitions(
        [
            disk_tool("quicklook", "glance", 100, accuracy=0.6, completeness=0.3),
            disk_tool("fullscan", "scan", 3000, accuracy=0.95, completeness=1.0),
        ],
        actor=Actor("simulation"),
    )
    started = await client.post("/api/v1/experiments", json=EXPERIMENT, headers=keys.editor)
    assert started.status_code == 201, started.text

    # Every agent selects first; outcomes come after (feedback teaches the selector at once,
    # which would blur the comparison if interleaved).
    answers = []
    for agent in range(200):
        body = {"request": REPORT, "session_id": f"agent-{agent}"}
        answers.append((await client.post(SELECT, json=body)).json())
    env = random.Random(17)
    events = []
    for answer in answers:
        decision = answer["decision"]
        ok = env.random() < SUCCESS[decision["tool"]]
        events.append(
            {
                "tool": decision["tool"],
                "capability": decision["capability"],
                "pattern": decision["pattern"],
                "duration_ms": DURATION_MS[decision["tool"]] * (0.8 + 0.4 * env.random()),
                "success": ok,
                "selection_id": answer["selection_id"],
            }
        )
        verdict = {"outcome": "accepted" if ok else "rejected"}
        url = f"/api/v1/selections/{answer['selection_id']}/feedback"
        assert (await client.post(url, json=verdict, headers=keys.editor)).status_code == 200
    report = await runtime.telemetry.ingest(events, reporter="simulation")
    assert report.accepted == 200

    body = (await client.get("/api/v1/experiments/speed-vs-thoroughness")).json()
    speed, thorough = body["variants"]
    assert speed["selections"] + thorough["selections"] == 200
    assert min(speed["selections"], thorough["selections"]) >= 70  # a 50/50 split
    assert thorough["acceptance"]["rate"] > speed["acceptance"]["rate"]
    low, high = thorough["acceptance"]["ci95"]
    assert low <= thorough["acceptance"]["rate"] <= high
    (versus,) = body["comparisons"]
    assert (versus["variant"], versus["control"]) == ("thorough", "speed")
    assert versus["acceptance"]["difference"] > 0
    assert versus["acceptance"]["significant"]
    assert versus["success"]["significant"]
    assert versus["median_duration"]["difference"] > 0  # the better one is slower
    assert versus["median_duration"]["significant"]

    promoted = await client.post(
        "/api/v1/experiments/speed-vs-thoroughness/promote",
        json={"variant": "thorough"},
        headers=keys.editor,
    )
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["status"], promoted.json()["promoted_variant"]) == (
        "completed",
        "thorough",
    )
    anyone = (await client.post(SELECT, json={"request": REPORT})).json()
    assert anyone["preferences_used"]["weights"]["completeness"] == 0.5
    assert anyone["preferences_used"]["weights"]["speed"] == 0
