"""The OpsConductor (seed) platform's load test, reproduced against `toolcatalog serve`: the
seed's report gave "P95 6.86 ms" for it. Read from its scripts/load_test.py (commit 4a8d24c0;
its repository carries no licence, so this is written anew, not copied), and measured the
same way:

    2 users, 60 s, users start 5 s apart (a 10 s ramp-up), 0.5 s think time after each
    request; each request drawn by weight: list 35, list ?name=test 20, get a tool 15
    (one of the first 10 listed), list ?enabled=true 15, list ?latest=true 10, performance
    stats 5. The client is the seed's: aiohttp, one ClientSession per user (so keep-alive
    connections), a 30 s timeout per request, each request timed from its start until its
    body is read. An answer outside 2xx is an error. P95 is the seed's: sorted[int(0.95 n)].

    python bench/seed_load.py                  # starts PostgreSQL and `toolcatalog serve`
                                               # (starter catalog, TOOLCATALOG_OPSCONDUCTOR_API)
    python bench/seed_load.py --duration 15    # a quick run
    python bench/seed_load.py --url http://127.0.0.1:3005/api/v1/tools   # a running server
    python bench/seed_load.py --per-kind 200   # what each kind of request costs, one at a time

Prints the overall and per-scenario figures, and the seed's target (0 % errors, P95 <= 6.86).
Then it runs the same users, pacing, mix and client against the floor of this machine at
this moment: bench/bare_app.py (uvicorn + FastAPI, no work) answering each request of the
mix with the very bytes our server answered for it. On a shared machine the floor says how
much of a figure is the machine; the last line gives our P95 over the floor's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
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
TIMEOUT_S = 30.0


@dataclass
class Figures:
    times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_scenario: dict[str, list[tuple[float, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    paths: set[str] = field(default_factory=set)

    def record(self, scenario: str, path: str, seconds: float, error: str | None) -> None:
        self.times.append(seconds)
        self.paths.add(path)
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
Get = Callable[[str], Awaitable[str | None]]  # a URL -> None, or what went wrong


@asynccontextmanager
async def client(kind: str) -> AsyncIterator[Get]:
    """One user's client: the seed's (aiohttp), or httpx, which this bench used before
    (`--client httpx`: it adds its own per-request cost to every figure)."""
    if kind == "httpx":
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as hx:

            async def get_httpx(url: str) -> str | None:
                try:
                    response = await hx.get(url)
                except httpx.HTTPError as exc:
                    return type(exc).__name__
                return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"

            yield get_httpx
        return
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession() as session:

        async def get_aiohttp(url: str) -> str | None:
            try:
                async with session.get(url, timeout=timeout) as response:
                    await response.read()
                    return None if 200 <= response.status < 300 else f"HTTP {response.status}"
            except TimeoutError:
                return "Timeout"
            except aiohttp.ClientError as exc:
                return f"Client Error: {type(exc).__name__}"

        yield get_aiohttp


async def user(
    base: str, choose: Choose, delay: float, stop: float, out: Figures, kind: str
) -> None:
    rng = random.Random()
    await asyncio.sleep(delay)
    async with client(kind) as get:
        while time.monotonic() < stop:
            scenario, path = choose(rng)
            start = time.perf_counter()
            error = await get(base + path)
            out.record(scenario, path, time.perf_counter() - start, error)
            await asyncio.sleep(THINK_S)


async def schedule(
    base: str, choose: Choose, users: int, duration: float, kind: str
) -> tuple[Figures, float]:
    out = Figures()
    start = time.monotonic()
    stop = start + duration
    delays = [i * RAMP_UP_S / users for i in range(users)]
    await asyncio.gather(*(user(base, choose, d, stop, out, kind) for d in delays))
    return out, time.monotonic() - start


def floor_key(path: str) -> str:
    """The bare app's name for a path of the mix (bench/bare_app.py --bodies)."""
    return "k" + re.sub(r"[^A-Za-z0-9_-]", "_", path)


async def run(base: str, users: int, duration: float, kind: str) -> tuple[Figures, float]:
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as hx:
        listed = await hx.get(base)
    names = [t["tool_name"] for t in listed.json().get("tools", [])[:10]]
    print(f"{len(names)} tool names from the list for 'Get Tool by Name'")
    return await schedule(base, lambda rng: pick(rng, names), users, duration, kind)


def keep_answers(base: str, paths: set[str], folder: Path) -> Path:
    """What the server answered for each path of the run, for the floor to answer alike."""
    bodies = folder / "bodies"
    bodies.mkdir(exist_ok=True)
    with httpx.Client(timeout=TIMEOUT_S) as hx:
        for path in paths:
            (bodies / f"{floor_key(path)}.json").write_bytes(hx.get(base + path).content)
    return bodies


def report(figures: Figures, elapsed: float) -> float:
    n = len(figures.times)
    failed = sum(figures.errors.values())
    error_pct = round(100 * failed / n, 2) if n else 0.0
    ms = [t * 1000 for t in figures.times]
    p95 = p95_ms(figures.times)
    print(f"\nrequests {n} in {elapsed:.1f} s ({n / elapsed:.2f} req/s), failed {failed}")
    print(f"error rate {error_pct} %   P95 {p95} ms   "
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
    met = error_pct == 0 and p95 <= SEED_P95_MS
    print(f"seed target (0 % errors, P95 <= {SEED_P95_MS} ms): {'met' if met else 'NOT met'}")
    return p95


def floor(bodies: Path, users: int, duration: float, kind: str, folder: Path) -> float:
    names = [p.stem[1:] for p in bodies.glob("k_*.json") if p.stem != "k_performance_stats"]

    def choose(rng: random.Random) -> tuple[str, str]:
        scenario, path = pick(rng, names)
        return scenario, "/" + floor_key(path)

    with bare_server(bodies / "k.json", 1, folder, bodies) as target:
        figures, _ = asyncio.run(
            schedule(target.url + "/api/v1/tools", choose, users, duration, kind)
        )
    ms = [t * 1000 for t in figures.times]
    print(f"\nfloor (bare uvicorn + FastAPI answering the same mix with the same bytes, same "
          f"users, pacing and client): P95 {p95_ms(figures.times)} ms   "
          f"median {statistics.median(ms):.2f} ms   ({len(ms)} requests, "
          f"{sum(figures.errors.values())} failed)")  # fmt: skip
    return p95_ms(figures.times)


async def per_kind(base: str, names: list[str], n: int, kind: str, floor_paths: bool) -> None:
    """`n` requests of each kind one after another, no think time: what each kind costs
    this server, its first (cold) answer apart. For the floor, paths are its names."""
    ms: dict[str, list[float]] = defaultdict(list)
    async with client(kind) as get:
        for i in range(n):
            for scenario, path, _ in SCENARIOS:
                path = path.replace("TOOL_NAME", names[i % len(names)])
                start = time.perf_counter()
                error = await get(base + ("/" + floor_key(path) if floor_paths else path))
                ms[scenario].append((time.perf_counter() - start) * 1000)
                if error is not None:
                    print(f"  {scenario}: {error}")
    for scenario, times in ms.items():
        rest = p95_ms([t / 1000 for t in times[1:]])
        print(f"  {scenario:<22} first {times[0]:6.2f} ms   median {statistics.median(times):5.2f}"
              f"   P95 {rest:6.2f}   max {max(times):6.2f}")  # fmt: skip


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the seed API base of a running server (.../api/v1/tools)")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-app floor run")
    parser.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="aiohttp, the seed's (default); httpx, this bench's before 2026-12-02",
    )
    parser.add_argument(
        "--per-kind",
        type=int,
        metavar="N",
        help="instead of the load test: N requests of each kind one after another, ours and "
        "the floor's (first, median, P95 of the rest, max)",
    )
    args = parser.parse_args()
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs); client {args.client}")
    with tempfile.TemporaryDirectory(prefix="seed-load-") as tmp, ExitStack() as servers:
        folder = Path(tmp)
        if args.url:
            base = args.url.rstrip("/")
        else:
            url = servers.enter_context(embedded_database(folder))
            target = servers.enter_context(
                toolcatalog_server(url, folder / "home", 1, folder, opsconductor_api="true")
            )
            base = target.url + "/api/v1/tools"
        if args.per_kind:
            names = [t["tool_name"] for t in httpx.get(base).json()["tools"][:10]]
            print(f"\ntoolcatalog, {args.per_kind} requests of each kind, one at a time:")
            asyncio.run(per_kind(base, names, args.per_kind, args.client, False))
            paths = {p.replace("TOOL_NAME", n) for _, p, _ in SCENARIOS for n in names}
            bodies = keep_answers(base, paths, folder)
            servers.close()
            if not args.no_floor:
                with bare_server(bodies / "k.json", 1, folder, bodies) as bare:
                    print("floor, the same requests and bytes:")
                    asyncio.run(
                        per_kind(
                            bare.url + "/api/v1/tools", names, args.per_kind, args.client, True
                        )
                    )
            return
        figures, elapsed = asyncio.run(run(base, args.users, args.duration, args.client))
        bodies = keep_answers(base, {"", *figures.paths}, folder)
        servers.close()  # our server stops before the floor runs
        ours = report(figures, elapsed)
        if not args.no_floor:
            bare = floor(bodies, args.users, args.duration, args.client, folder)
            print(f"P95 toolcatalog / floor: {ours} / {bare} ms = {ours / bare:.2f} x")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
