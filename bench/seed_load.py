"""The OpsConductor (seed) platform's load test, reproduced against `toolcatalog serve`: the
seed's report gave "P95 6.86 ms" for it. Same mix, users, ramp-up, think time and figures
(written from its description; the seed's repository carries no licence):

    2 users, 60 s, users start 5 s apart (a 10 s ramp-up), 0.5 s think time after each
    request; each request drawn by weight: list 35, list ?name=test 20, get a tool 15
    (one of the first 10 listed), list ?enabled=true 15, list ?latest=true 10, performance
    stats 5. An answer outside 2xx is an error. P95 is the seed's: sorted[int(0.95 n)].

    python bench/seed_load.py                  # starts PostgreSQL and `toolcatalog serve`
                                               # (starter catalog, TOOLCATALOG_OPSCONDUCTOR_API)
    python bench/seed_load.py --duration 15    # a quick run
    python bench/seed_load.py --url http://127.0.0.1:3005/api/v1/tools   # a running server

Prints the overall and per-scenario figures, and the seed's target (0 % errors, P95 <= 6.86).
With its own server it then runs the same users, pacing and client against the floor of
this machine at this moment: bench/bare_app.py (uvicorn + FastAPI returning the list's
bytes, no work). On a shared machine the floor says how much of a figure is the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from servers import bare_server, embedded_database, toolcatalog_server

SEED_P95_MS = 6.86
# (scenario, path after the base URL, weight); TOOL_NAME is one of the first ten listed.
SCENARIOS = (
    ("List Tools", "", 35),
    ("Search by Name", "?name=test", 20),
    ("Get Tool by Name", "/TOOL_NAME", 15),
    ("Search Enabled Tools", "?enabled=true", 15),
    ("Search Latest Version", "?latest=true", 10),
    ("Performance Stats", "/performance/stats", 5),
)
THINK_S = 0.5
RAMP_UP_S = 10.0


@dataclass
class Figures:
    times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_scenario: dict[str, list[tuple[float, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def record(self, scenario: str, seconds: float, error: str | None) -> None:
        self.times.append(seconds)
        self.by_scenario[scenario].append((seconds, error is None))
        if error is not None:
            self.errors[error] += 1


def p95_ms(times: list[float]) -> float:
    """The seed's percentile: the element at int(n * 0.95) of the sorted times."""
    ordered = sorted(times)
    return round(ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)] * 1000, 2)


def pick(rng: random.Random, names: list[str]) -> tuple[str, str]:
    roll = rng.randint(1, sum(w for _, _, w in SCENARIOS))
    for scenario, path, weight in SCENARIOS:
        roll -= weight
        if roll <= 0:
            if "TOOL_NAME" in path and names:
                path = path.replace("TOOL_NAME", rng.choice(names))
            return scenario, path
    raise AssertionError("weights exhausted")  # pragma: no cover


Choose = Callable[[random.Random], tuple[str, str]]


async def user(base: str, choose: Choose, delay: float, stop: float, out: Figures) -> None:
    rng = random.Random()
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < stop:
            scenario, path = choose(rng)
            start = time.perf_counter()
            error = None
            try:
                response = await client.get(base + path)
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            out.record(scenario, time.perf_counter() - start, error)
            await asyncio.sleep(THINK_S)


async def schedule(base: str, choose: Choose, users: int, duration: float) -> tuple[Figures, float]:
    out = Figures()
    start = time.monotonic()
    stop = start + duration
    delays = [i * RAMP_UP_S / users for i in range(users)]
    await asyncio.gather(*(user(base, choose, d, stop, out) for d in delays))
    return out, time.monotonic() - start


async def run(base: str, users: int, duration: float) -> tuple[Figures, float, bytes]:
    async with httpx.AsyncClient(timeout=30) as client:
        listed = await client.get(base)
    names = [t["tool_name"] for t in listed.json().get("tools", [])[:10]]
    print(f"{len(names)} tool names from the list for 'Get Tool by Name'")
    figures, elapsed = await schedule(base, lambda rng: pick(rng, names), users, duration)
    return figures, elapsed, listed.content


def report(figures: Figures, elapsed: float) -> None:
    n = len(figures.times)
    failed = sum(figures.errors.values())
    error_pct = round(100 * failed / n, 2) if n else 0.0
    ms = [t * 1000 for t in figures.times]
    print(f"\nrequests {n} in {elapsed:.1f} s ({n / elapsed:.2f} req/s), failed {failed}")
    print(f"error rate {error_pct} %   P95 {p95_ms(figures.times)} ms   "
          f"median {statistics.median(ms):.2f} ms   mean {statistics.mean(ms):.2f} ms   "
          f"max {max(ms):.2f} ms")  # fmt: skip
    for scenario, rows in sorted(figures.by_scenario.items()):
        ok = sum(1 for _, good in rows if good)
        times = [t for t, _ in rows]
        print(f"  {scenario:<22} {len(rows):>4} requests, {ok:>4} ok, "
              f"P95 {p95_ms(times):>6} ms, "
              f"mean {statistics.mean(times) * 1000:.2f} ms")  # fmt: skip
    slowest = sorted(
        ((t, name) for name, rows in figures.by_scenario.items() for t, _ in rows), reverse=True
    )[:3]
    print("slowest: " + ", ".join(f"{name} {t * 1000:.1f} ms" for t, name in slowest))
    if figures.errors:
        print("errors: " + ", ".join(f"{k}: {v}" for k, v in figures.errors.items()))
    met = error_pct == 0 and p95_ms(figures.times) <= SEED_P95_MS
    print(f"seed target (0 % errors, P95 <= {SEED_P95_MS} ms): {'met' if met else 'NOT met'}")


def floor(body: bytes, users: int, duration: float, folder: Path) -> None:
    (folder / "list.json").write_bytes(body)
    with bare_server(folder / "list.json", 1, folder) as target:
        base = target.url + "/api/v1/tools"
        figures, _ = asyncio.run(schedule(base, lambda _rng: ("floor", "/list"), users, duration))
    ms = [t * 1000 for t in figures.times]
    print(f"\nfloor (bare uvicorn + FastAPI, same users, pacing and client, the list's bytes): "
          f"P95 {p95_ms(figures.times)} ms   median {statistics.median(ms):.2f} ms   "
          f"({len(ms)} requests)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the seed API base of a running server (.../api/v1/tools)")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-app floor run")
    args = parser.parse_args()
    if args.url:
        figures, elapsed, _ = asyncio.run(run(args.url.rstrip("/"), args.users, args.duration))
        report(figures, elapsed)
        return
    with tempfile.TemporaryDirectory(prefix="seed-load-") as tmp:
        folder = Path(tmp)
        with (
            embedded_database(folder) as url,
            toolcatalog_server(url, folder / "home", 1, folder, opsconductor_api="true") as target,
        ):
            figures, elapsed, body = asyncio.run(
                run(target.url + "/api/v1/tools", args.users, args.duration)
            )
        report(figures, elapsed)
        if not args.no_floor:
            floor(body, args.users, args.duration, folder)


if __name__ == "__main__":
    main()
