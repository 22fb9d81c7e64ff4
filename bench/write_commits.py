"""Writes of different tools at once, without HTTP and without readers: does one writer's
commit wait for another's? Each `--src` checkout gets its own embedded PostgreSQL; per round
a fresh process of that checkout opens a runtime on it (migrating it), holds the starter
catalog, and runs `--writers` tasks, each patching a tool of its own in a closed loop through
the service (write queue, `write_tools`, commit) for `-d` seconds, while one more connection
samples what PostgreSQL's client backends wait on every ~20 ms. Checkouts interleave per round.

    python bench/write_commits.py --src BASE/src --src src --writers 8 -d 8 --rounds 3

Prints per round: patches a second, each patch's latency p50 / p99 (ms), and the backends'
waits (samples of `wait_event_type:wait_event`; `Lock:transactionid` / `Lock:tuple` are
writers queuing on another's row, `IO:WALSync` a commit's flush).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


async def _sample_waits(url: str, stop: asyncio.Event, waits: collections.Counter[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w "
                "FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND state = 'active' AND pid <> pg_backend_pid() "
                "AND query NOT LIKE '%LISTEN%'"
            )
            waits.update(r["w"] for r in rows)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
    finally:
        await conn.close()


async def _work(url: str, home: Path, writers: int, seconds: float) -> dict[str, Any]:
    """One round in this process (run with the checkout under test first on sys.path)."""
    from toolcatalog.config import Settings
    from toolcatalog.formats.definitions import load_paths
    from toolcatalog.runtime import open_runtime

    settings = Settings.model_validate(
        {"database_url": url, "home": home, "catalog_dir": None, "import_on_start": False,
         "pool_max_size": writers + 4}
    )  # fmt: skip
    tools = [t.tool for t in load_paths([ROOT / "catalog"]).tools][:writers]
    async with open_runtime(settings) as runtime:
        service = runtime.catalog
        await service.import_definitions(tools)
        for tool in tools:
            await service.get_tool(tool.name)
        latencies: list[float] = []
        stop_at = time.monotonic() + seconds
        stop, waits = asyncio.Event(), collections.Counter[str]()
        sampler = asyncio.ensure_future(_sample_waits(url, stop, waits))

        async def writer(name: str) -> None:
            k = 0
            while time.monotonic() < stop_at:
                k += 1
                began = time.perf_counter()
                await service.patch_tool(name, {"owner": f"writer {k}"})
                latencies.append((time.perf_counter() - began) * 1000)

        began = time.monotonic()
        await asyncio.gather(*(writer(t.name) for t in tools))
        elapsed = time.monotonic() - began
        stop.set()
        await sampler
    latencies.sort()
    return {
        "patches_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
        "waits": dict(waits.most_common(6)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", action="append", type=Path, help="a checkout's src folder")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("-d", "--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("URL", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, home = args.worker
        result = asyncio.run(_work(url, Path(home), args.writers, args.duration))
        print(json.dumps(result))
        return
    sys.path.insert(0, str(HERE))
    from servers import embedded_database

    sources = [s.resolve() for s in (args.src or [ROOT / "src"])]
    with contextlib.ExitStack() as stack:
        targets = []
        for source in sources:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="commits-")))
            targets.append((source, stack.enter_context(embedded_database(work)), work))
        for round_ in range(1, args.rounds + 1):
            for source, url, work in targets:
                load = Path("/proc/loadavg").read_text().split()[0]
                env = dict(os.environ, PYTHONPATH=str(source))
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", url, str(work / f"home{round_}"),
                     "--writers", str(args.writers), "-d", str(args.duration)],
                    env=env, check=False, capture_output=True, text=True,
                )  # fmt: skip
                lines = out.stdout.strip().splitlines()
                if not lines or not lines[-1].startswith("{"):
                    print(
                        f"round {round_} {source}: failed ({out.returncode})\n{out.stderr[-2000:]}"
                    )
                    continue
                # (A worker's exit after its figures may abort: ONNX Runtime's threads at
                # interpreter finalisation; its figures stand.)
                r = json.loads(lines[-1])
                print(
                    f"round {round_} {source} (load {load}): {r['patches_per_s']:.0f} patches/s, "
                    f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; waits {r['waits']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
