"""Outcome telemetry ingestion through one `toolcatalog serve` worker: batches of 500 events
(POST /api/v1/telemetry with a reporter key) from a few concurrent clients, over the starter
catalog's patterns with a skewed popularity (a few hot patterns, a long tail), as agents
report them. Prints events/s end to end, the batch latency and the CPU seconds the worker
and PostgreSQL spent per 1,000 events (what a busy shared machine cannot hide: events per
CPU-second is the rate one free core would sustain), then reads the analytics routes once.

    python bench/telemetry_ingest.py [--events 100000] [--batch 500] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from servers import create_api_key, embedded_database, toolcatalog_server, tree_cpu_s

from toolcatalog.formats.catalog_folder import read_catalog_folder

ROOT = Path(__file__).resolve().parents[1]


def pattern_keys() -> list[tuple[str, str, str]]:
    tools = read_catalog_folder(ROOT / "catalog").tools
    return [(t.name, c.name, p.name) for t in tools for c in t.capabilities for p in c.patterns]


def make_batches(events: int, batch: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    keys = pattern_keys()
    rng.shuffle(keys)
    # Zipf-like: the k-th pattern is reported ~1/k as often as the first.
    weights = [1 / (k + 1) for k in range(len(keys))]
    picks = rng.choices(keys, weights=weights, k=events)
    out = []
    for start in range(0, events, batch):
        out.append(
            {
                "events": [
                    {
                        "tool": tool,
                        "capability": capability,
                        "pattern": pattern,
                        "duration_ms": round(rng.lognormvariate(5, 1), 2),
                        "success": rng.random() > 0.05,
                        "cost": 1.0,
                        **({"error": "timeout"} if rng.random() < 0.02 else {}),
                    }
                    for tool, capability, pattern in picks[start : start + batch]
                ]
            }
        )
    return out


async def post_all(
    url: str, key: str, batches: list[dict[str, Any]], clients: int
) -> tuple[float, list[float], int]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)
    latencies: list[float] = []
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post("/api/v1/telemetry", json=body)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
                accepted += response.json()["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, accepted


def postgres_pid(folder: Path) -> int | None:
    """The embedded PostgreSQL's postmaster (its backends are its children)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and any(str(folder) in part for part in cmdline):
            return int(proc.pid)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    batches = make_batches(args.events, args.batch)
    work = Path(tempfile.mkdtemp(prefix="toolcatalog-telemetry-"))
    (work / "logs").mkdir()
    with (
        embedded_database(work) as db_url,
        toolcatalog_server(
            db_url, work / "home", 1, work / "logs", access_log="false", semantic="false"
        ) as server,
    ):
        key = create_api_key(db_url, "bench-reporter", "reporter")
        warm = make_batches(args.batch * 4, args.batch, seed=1)
        asyncio.run(post_all(server.url, key, warm, args.clients))
        database = postgres_pid(work)
        cpu_before = tree_cpu_s(server.pid), tree_cpu_s(database)
        load_before = os.getloadavg()[0]
        elapsed, latencies, accepted = asyncio.run(post_all(server.url, key, batches, args.clients))
        worker_s = tree_cpu_s(server.pid) - cpu_before[0]
        database_s = tree_cpu_s(database) - cpu_before[1]
        latencies.sort()
        print(
            f"ingest: {accepted:,} events in {len(batches)} batches of {args.batch} "
            f"({args.clients} clients, 1 worker) in {elapsed:.2f} s = "
            f"{accepted / elapsed:,.0f} events/s; batch p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, p95 "
            f"{latencies[int(0.95 * (len(latencies) - 1))] * 1000:.1f} ms "
            f"(load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores)"
        )
        print(
            f"CPU per 1,000 events: worker {worker_s / accepted * 1000 * 1000:.0f} ms, "
            f"PostgreSQL {database_s / accepted * 1000 * 1000:.0f} ms; events per CPU-second: "
            f"worker {accepted / worker_s:,.0f}, PostgreSQL {accepted / database_s:,.0f}"
        )
        for path, params in (
            ("/api/v1/analytics/usage", {"by": "pattern", "interval": "hour"}),
            ("/api/v1/analytics/profiles", {}),
            ("/api/v1/analytics/capacity", {}),
        ):
            started = time.perf_counter()
            response = httpx.get(server.url + path, params=params, timeout=60)
            response.raise_for_status()
            print(f"{path}: {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
