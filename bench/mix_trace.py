"""Where a mix's slow requests spend their time, per kind and per step, on the server.

    python bench/mix_trace.py                               # the default mix of issue #14
    python bench/mix_trace.py --mix get=95,select=5 -d 8 --rounds 2
    python bench/mix_trace.py --src /tmp/base/src --src src   # two checkouts, interleaved

Starts PostgreSQL and one traced `toolcatalog serve` worker per `--src` (mix_trace/
sitecustomize.py wraps the server's request path, a patch's and a select's steps, the
selector's background builds, the cyclic collector and each thread's CPU), drives the mix
with wrk at 64 connections as bench/load.py does, samples pg_stat_activity beside it, and
prints per round: each kind's latency at the server (arrival at the app to first byte sent;
wrk's figure adds the wait before the app is called, up to a turn or two of the loop), which
kinds the slowest 1 % are, a patch's and a select's steps, the background builds, the
collector's CPU, the loop thread's CPU per request and what PostgreSQL was waiting on."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from load import build_ops, measure, parse_mix, row
from servers import create_api_key, embedded_database, toolcatalog_server

TRACER = Path(__file__).resolve().parent / "mix_trace"
DEFAULT = "get=90,list=2,search=3,select=3,patch=2"


def _pg_waits(url: str, stop: threading.Event, counts: collections.Counter[Any]) -> None:
    """What the database's client backends are doing, every ~20 ms until `stop`."""
    import asyncpg

    async def sample() -> None:
        conn = await asyncpg.connect(url)
        while not stop.is_set():
            counts["samples"] += 1
            for r in await conn.fetch(
                "SELECT state, wait_event, left(query, 24) AS q FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' "
                "AND state <> 'idle'"
            ):
                counts[(r["state"], r["wait_event"], r["q"])] += 1
            await asyncio.sleep(0.02)
        await conn.close()

    asyncio.run(sample())


def _ms(values: list[float], p: float) -> float:
    return float(np.percentile(values, p) * 1000) if values else float("nan")


def _line(label: str, values: list[float]) -> str:
    return (
        f"    {label:<30} n={len(values):5}  p50 {_ms(values, 50):7.1f}  p90 "
        f"{_ms(values, 90):7.1f}  p99 {_ms(values, 99):7.1f} ms"
    )


def report(events: list[Any]) -> None:
    """The trace of one run (`events` between its first and last request)."""
    reqs = [e for e in events if e[0] == "req"]
    answered = {e[3][2]: e for e in reqs}

    def latency(e: Any) -> float:
        return float((e[3][1] or e[2]) - e[1])

    by_kind = collections.defaultdict(list)
    for e in reqs:
        by_kind[e[3][0]].append(latency(e))
    for kind, values in sorted(by_kind.items()):
        print(_line(f"{kind} at the server", values))
    slowest = sorted(reqs, key=latency)[-max(1, len(reqs) // 100) :]
    print("    slowest 1 %:", dict(collections.Counter(e[3][0] for e in slowest)))
    steps: dict[int, dict[str, float]] = collections.defaultdict(dict)
    for e in events:
        if e[0] == "step" and e[3][1] in answered:
            steps[e[3][1]][e[3][0]] = steps[e[3][1]].get(e[3][0], 0.0) + e[2] - e[1]
    print("  patch steps:")
    for label in ("turn", "acquire", "write_tool", "update"):
        values = [s[label] for s in steps.values() if label in s]
        print(_line({"turn": "waiting for the tool's turn"}.get(label, label), values))
    batches = [e for e in events if e[0] == "batch"]
    if batches:
        sizes = [e[3][0] for e in batches]
        print(
            f"  write_tools batches: {len(batches)}, writes a batch p50 "
            f"{np.percentile(sizes, 50):.0f} max {max(sizes)}"
        )
        print(_line("write_tools (a batch's round trip)", [e[2] - e[1] for e in batches]))
    hops = [e for e in events if e[0] == "sel" and e[3][1] is not None]
    print("  select hop:")
    print(_line("queued for a pool thread", [e[3][1] - e[1] for e in hops]))
    print(_line("in the thread (wall)", [e[3][2] - e[3][1] for e in hops]))
    print(_line("in the thread (CPU)", [e[3][3] for e in hops]))
    print(_line("done to its callback", [e[2] - e[3][2] for e in hops]))
    builds = [e for e in events if e[0] == "build"]
    embeds = [e for e in events if e[0] == "embed"]
    print(
        f"  background builds: {len(builds)}, CPU {sum(e[3][0] for e in builds):.2f} s "
        f"(embedding {sum(e[3][0] for e in embeds):.2f} s), wall p50 "
        f"{_ms([e[2] - e[1] for e in builds], 50):.0f} ms"
    )
    collections_cpu = [0.0, 0.0, 0.0]
    for e in events:
        if e[0] == "gc":
            collections_cpu[e[3][0]] += e[3][2]
    print("  collector CPU by generation (ms):", [round(c * 1000) for c in collections_cpu])


def threads(before: Any, after: Any, requests: int) -> None:
    """Each thread's CPU between two of the tracer's readings, the loop's per request."""
    if before is None or after is None:
        return
    span = after[1] - before[1]
    used = {k: v - before[3].get(k, 0.0) for k, v in after[3].items()}
    main = used.get("MainThread", 0.0)
    busy = ", ".join(f"{k} {v / span:.2f}" for k, v in used.items() if v > 0.02)
    print(f"  loop thread {main * 1000 / max(requests, 1):.3f} ms CPU a request; cores: {busy}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--src", action="append", type=Path, help="a checkout's src folder")
    parser.add_argument("--mix", default=DEFAULT)
    parser.add_argument("-d", "--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sources = args.src or [Path(__file__).resolve().parents[1] / "src"]
    drive = argparse.Namespace(client="auto", connections=64, threads=1, duration=args.duration)
    with contextlib.ExitStack() as stack:
        servers = []
        for k, source in enumerate(sources):
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mixtrace-")))
            (work / "logs").mkdir()
            url = stack.enter_context(embedded_database(work))
            trace = work / "trace.jsonl"
            saved = dict(os.environ)
            os.environ |= {"MIXTRACE_OUT": str(trace), "PYTHONPATH": f"{TRACER}:{source}"}
            try:
                target = stack.enter_context(
                    toolcatalog_server(url, work / "home", 1, work / "logs")
                )
            finally:
                os.environ.clear()
                os.environ.update(saved)
            key = create_api_key(url, f"bench_{secrets.token_hex(3)}", source=source)
            ops = build_ops(target.url, parse_mix(args.mix), "grep", key)
            servers.append((f"{k}:{source}", target, url, trace, ops))
        for _ in range(args.rounds):
            for label, target, url, trace, ops in servers:
                seen = trace.stat().st_size if trace.exists() else 0
                stop, waits = threading.Event(), collections.Counter[Any]()
                sampler = threading.Thread(target=_pg_waits, args=(url, stop, waits))
                sampler.start()
                run = measure(target, ops, drive)
                stop.set()
                sampler.join()
                load = Path("/proc/loadavg").read_text().split()[0]
                print(row(f"{label} (load {load})", run))
                if run.kinds:
                    print(f"  per kind (sampler): {run.kinds}")
                threading.Event().wait(2.5)  # the tracer writes once a second
                with trace.open() as f:
                    f.seek(seen)
                    events = [json.loads(line) for line in f]
                reqs = [e for e in events if e[0] == "req"]
                if not reqs:
                    continue
                lo, hi = reqs[0][1], max(e[2] for e in reqs)
                timed = [e for e in events if lo <= e[1] <= hi and e[0] != "tcpu"]
                cpu = [e for e in events if e[0] == "tcpu"]
                report(timed)
                threads(
                    next((e for e in reversed(cpu) if e[1] <= lo), None),
                    next((e for e in cpu if e[1] >= hi), None),
                    len(reqs),
                )
                samples = waits.pop("samples", 0)
                top = [(" / ".join(str(x) for x in k), n) for k, n in waits.most_common(7)]
                print(f"  pg_stat_activity, {samples} samples: {top}", flush=True)


if __name__ == "__main__":
    main()
