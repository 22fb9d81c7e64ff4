"""How long health and a read of an expired cached tool take while PostgreSQL hangs (every
server process SIGSTOPped: connections open, nothing answers). One `toolcatalog serve` (cache
TTL 1 s, lexical selection) on an embedded PostgreSQL with the starter catalog; figures before
the freeze and during it. The target is 250 ms for both; before the background probe, health
took 3 s typically and 8 s at most, and stale reads waited up to 8 s.

    python bench/hung_database.py [--requests 20]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
from servers import embedded_database, toolcatalog_server


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def timed(client: httpx.Client, path: str, n: int) -> tuple[list[float], Counter[str]]:
    seconds: list[float] = []
    outcomes: Counter[str] = Counter()
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - start)
        if path.endswith("/health"):
            outcomes[response.json()["status"]] += 1
        else:
            stale = response.headers.get("x-cache-stale") == "true"
            outcomes[f"{response.status_code}{' stale' if stale else ''}"] += 1
        time.sleep(0.05)
    return seconds, outcomes


def report(what: str, seconds: list[float], outcomes: Counter[str]) -> None:
    ms = sorted(1000 * s for s in seconds)
    print(f"{what:<34} p50 {statistics.median(ms):7.1f} ms  max {ms[-1]:7.1f} ms  {dict(outcomes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="toolcatalog-hung-"))
    (work / "logs").mkdir()
    settings = {"access_log": "false", "cache_ttl_s": "1", "semantic": "false"}
    with (
        embedded_database(work) as url,
        toolcatalog_server(url, work / "home", 1, work / "logs", **settings) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        tool = "/api/v1/tools/grep"
        client.get(tool).raise_for_status()
        report("health, database answering", *timed(client, "/api/v1/tools/health", args.requests))
        processes = postgres_processes(work / "pgdata")
        for proc in processes:
            proc.suspend()
        try:
            time.sleep(1.1)  # the cached tool expires
            report("health, database hung", *timed(client, "/api/v1/tools/health", args.requests))
            report("expired cached tool, db hung", *timed(client, tool, args.requests))
        finally:
            for proc in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.resume()


if __name__ == "__main__":
    main()
