"""The catalog at scale (issue #14 item 3): N generated tools imported, a server started on
them, and get / list / search / select measured against it, with its resident memory.

    python bench/scale.py --tools 100000 -d 5

Steps, each timed: import N generated tools (bench/import_bench.py's generator) into a fresh
embedded PostgreSQL (or --database-url); start `toolcatalog serve` (one worker) and wait until
its health answers and its catalog is loaded (start to serving); its RSS; then, one kind at a
time at --connections: GETs spread over 1,000 tools, a list page, a full-text search, and a
select (p95 is the figure of interest there). `--baseline-src DIR` measures another checkout
first on the same database; `--restart` starts our worker a second time once it has saved its
catalog version (catalog/saved.py), as a restart does; `--home DIR` keeps our worker's home
(and so its saved version) between runs, `--baseline-home DIR` the baseline's. Each kind also
prints the worker's CPU per answer, which the machine's load does not inflate as it does the
latencies. Semantic retrieval is off by default here: embedding N generated tools' texts takes
hours on a small machine (--semantic to keep it; `bench/prefill_embeddings.py --tools N
--home H` first fills H's cache, so that --semantic --home H measures a start with embeddings
cached). RSS is read at points, and its peak per phase (start, runs, writes) from the
kernel's high-water mark (VmHWM, reset between phases). `--writes K` then patches K tools one
at a time through each checkout's last worker and
times each from the patch's answer (its commit) to the first select that answers with the
patched tool (issue #14's "at most 1 s later").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil
from drivers import Op, run_python, run_wrk, wrk_available
from import_bench import generate
from servers import create_api_key, embedded_database, toolcatalog_server, tree_cpu_s

from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.store.database import Database
from toolcatalog.store.migrate import migrate

# How long the worker is left without requests before its RSS is read again.
IDLE_S = 3.0
# And after --writes: the written catalog's scan is put back in order and kept in its file
# once no write came for semantic_engine.KEEP_AFTER_S (5 s); RSS is read every WATCH_EVERY_S
# until --watch-after-writes (default 20 s) has passed.
WRITES_SETTLE_S = 20.0
WATCH_EVERY_S = 10.0


async def import_tools(n: int, url: str) -> float:
    settings = Settings(
        database_url=url, import_on_start=False, catalog_dir=None, db_command_timeout_s=1200
    )
    db = Database(settings)
    await db.open()
    try:
        async with db.connection("migrate") as conn:
            await migrate(conn)
        tools = generate(n)
        start = time.perf_counter()
        await ToolCatalogService(db, settings).import_definitions(tools, actor=Actor("bench"))
        return time.perf_counter() - start
    finally:
        await db.close()


def rss(pid: int) -> str:
    """The resident memory of `pid` and its children, MiB, and its parts: anonymous (the
    heap: the worker's own) and file pages (mapped files such as the scan's levels: shared
    by the workers of one server, and given back to the kernel under pressure)."""
    proc = psutil.Process(pid)
    parts = {"RssAnon:": 0, "RssFile:": 0, "RssShmem:": 0}
    for each in [proc, *proc.children(recursive=True)]:
        for line in Path(f"/proc/{each.pid}/status").read_text().splitlines():
            name, *value = line.split()
            if name in parts:
                parts[name] += int(value[0])  # kB
    anon, file, shmem = (kb / 1024 for kb in parts.values())
    return f"{anon + file + shmem:,.0f} MiB (anonymous {anon:,.0f}, file {file:,.0f})"


def status_kb(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """The fields `names` (such as "VmHWM") of a /proc/<pid>/status text, kB (0 when absent)."""
    found = dict.fromkeys(names, 0)
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0])
    return found


def _tree(pid: int) -> list[int]:
    proc = psutil.Process(pid)
    return [proc.pid, *(each.pid for each in proc.children(recursive=True))]


def peak_rss(pid: int) -> str:
    """The peak resident memory of `pid` and its children (VmHWM: the kernel's high-water
    mark, every page counted, since the start or the last `reset_peak`), MiB; summed over the
    processes (each one's own peak: an upper bound when there are several)."""
    kb = sum(
        status_kb(Path(f"/proc/{each}/status").read_text(), ("VmHWM",))["VmHWM"]
        for each in _tree(pid)
    )
    return f"{kb / 1024:,.0f} MiB"


def reset_peak(pid: int) -> bool:
    """Set the peak of `pid` and its children back to their RSS now (`echo 5 >
    /proc/<pid>/clear_refs`, Linux 4.0 and later); False when the kernel does not allow it
    (the next peak is then the one since the start)."""
    try:
        for each in _tree(pid):
            Path(f"/proc/{each}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def load_s(client: httpx.Client) -> float:
    """The whole read's duration (toolcatalog_catalog_load_duration_seconds): the rest of
    the start is mostly the selector's index build."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("toolcatalog_catalog_load_duration_seconds_sum"):
            return float(line.split()[-1])
    return float("nan")


def start_timeline(log: Path | None, spawned: float, served: float) -> list[str]:
    """The worker's log lines from its spawn (`spawned`, time.time()) until it served
    (`served`): when each came (seconds since the spawn) and what it said, with its timings
    (`seconds`; `phases`, the semantic fill's steps: where the start's time went)."""
    if log is None or not log.is_file():
        return []
    lines = []
    for text in log.read_text(errors="replace").splitlines():
        try:
            line = json.loads(text)
            at = datetime.fromisoformat(line["ts"]).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        if at > served + 1:
            break
        timings = {k: line[k] for k in ("seconds", "phases", "texts", "fetched") if k in line}
        shown = f"  {json.dumps(timings, separators=(',', ':'))}" if timings else ""
        lines.append(f"  {at - spawned:6.1f} s  {line.get('msg', '')[:90]}{shown}")
    return lines


def drive(url: str, ops: list[Op], connections: int, seconds: float) -> tuple[str, int]:
    """The run's figures as a line, and how many requests were answered."""
    run = run_wrk if wrk_available() else run_python
    m = run(url, ops, connections=connections, seconds=seconds)
    if m.requests == 0:  # every request still waiting when the run ended: no percentiles
        return f"no answer within the {seconds:.0f} s run (each latency > {seconds:.0f} s)", 0
    errors = f" errors {m.errors} {m.error_detail}" if m.errors else ""
    # wrk's own p99 counts the samples its correction invents (bench/wrk_latency.py); shown
    # beside the answers' own, with Little's law's check: connections busy = req/s x mean.
    wrk = f"  (wrk's own p99 {m.wrk_p99_ms:.1f})" if m.wrk_p99_ms is not None else ""
    line = (
        f"{m.rps:8.0f} req/s  p50 {m.p50_ms:7.1f}  p95 {m.p95_ms:7.1f}  "
        f"p99 {m.p99_ms:7.1f}  max {m.max_ms:7.1f} ms  busy {m.rps * m.mean_ms / 1000:4.1f}"
        f"{wrk}{errors}"
    )
    return line, m.requests


def measure(args: argparse.Namespace, url: str, folder: Path) -> None:
    print(f"import {args.tools:,} tools (one transaction): {args.import_s:.1f} s", flush=True)
    if args.baseline_src:
        serve(args, url, folder / "base", "baseline", args.baseline_src)
    serve(args, url, folder / "ours", "ours", None)
    if args.restart:
        serve(args, url, folder / "ours", "ours, restarted", None, restarted=True)


def serve(
    args: argparse.Namespace,
    url: str,
    folder: Path,
    label: str,
    source: Path | None,
    *,
    restarted: bool = False,
) -> None:
    """Start one worker on `url` (home `folder/home`, kept between calls), print its start
    and what it answers, and stop it; with --restart, once its saved version is written."""
    print(f"--- {label}", flush=True)
    env = {"semantic": "true" if args.semantic else "false", "access_log": "false"}
    env |= {"db_command_timeout_s": "600", "startup_retry_s": "600"}
    folder.mkdir(parents=True, exist_ok=True)
    kept = args.home if source is None else args.baseline_home
    home = kept if kept is not None else folder / "home"
    started = time.perf_counter()
    spawned = time.time()
    with toolcatalog_server(url, home, 1, folder, 1800, source, **env) as target:
        ready = time.perf_counter() - started
        served = time.time()
        cpu = tree_cpu_s(target.pid)
        base = target.url
        client = httpx.Client(base_url=base, timeout=600)
        client.get("/api/v1/tools?limit=1")  # the version is loaded before serving
        print(f"start to serving (health answers, catalog loaded): {ready:.1f} s", flush=True)
        print(f"  semantic retrieval then: {target.semantic}", flush=True)
        if args.semantic and target.semantic in ("waiting", "loading", "unknown"):
            raise SystemExit("semantic retrieval was not ready: the start is not measured")
        print(f"  the worker's CPU until then: {cpu:.1f} s", flush=True)
        print(f"  of which the whole read (catalog version): {load_s(client):.1f} s", flush=True)
        print(f"RSS of the worker: {rss(target.pid)}", flush=True)
        print(f"  peak RSS of the worker since its start: {peak_rss(target.pid)}", flush=True)
        time.sleep(0.5)  # the log's buffer (logs.BufferedStreamHandler) written out
        print("  the start as the worker logged it (seconds since its spawn):", flush=True)
        print("\n".join(start_timeline(target.log, spawned, served)), flush=True)
        since = "serving" if reset_peak(target.pid) else "its start"
        for kind, ops in kinds(args).items():
            conns = args.select_connections if kind == "select" else args.connections
            before = tree_cpu_s(target.pid)
            line, requests = drive(base, ops, conns, args.duration)
            # The worker's CPU per answer: what the kind costs, whatever the machine's load
            # (the latencies above are mostly queueing on a shared machine).
            cpu = (tree_cpu_s(target.pid) - before) * 1000 / max(requests, 1)
            print(f"{kind:28} {conns:3} conns {line}  {cpu:5.2f} ms CPU each", flush=True)
        print(f"RSS of the worker after the runs: {rss(target.pid)}", flush=True)
        print(f"  peak RSS of the worker since {since}: {peak_rss(target.pid)}", flush=True)
        time.sleep(IDLE_S)  # what it keeps once requests stop (the scan's idle release)
        print(f"RSS of the worker {IDLE_S:.0f} s after the runs: {rss(target.pid)}", flush=True)
        if args.restart and source is None and not restarted:
            waited = time.perf_counter()
            while not list((home / "cache").glob("version-*.saved")):
                if time.perf_counter() - waited > 1800:
                    raise SystemExit("the catalog version was not saved within 30 minutes")
                time.sleep(1)
            saved_s = time.perf_counter() - started
            print(f"catalog version saved {saved_s:.1f} s after the start", flush=True)
        elif args.writes and (restarted or not args.restart or source is not None):
            key = create_api_key(url, f"scale-writes-{time.monotonic_ns()}", source=source)
            since = "the writes began" if reset_peak(target.pid) else since
            visible(client, key, args.tools, args.writes)
            print(f"RSS of the worker after the writes: {rss(target.pid)}", flush=True)
            print(f"  peak RSS of the worker since {since}: {peak_rss(target.pid)}", flush=True)
            # Reset before the compaction, which starts once no write came for
            # semantic_engine.KEEP_AFTER_S (5 s; the last write was answered a second ago).
            since = "the writes ended" if reset_peak(target.pid) else since
            watched = 0.0  # the scan written back to its file (KEEP_AFTER_S), and after
            while watched < args.watch_after_writes:
                step = min(WATCH_EVERY_S, args.watch_after_writes - watched)
                time.sleep(step)
                watched += step
                print(
                    f"RSS of the worker {watched:.0f} s after the writes: {rss(target.pid)}",
                    flush=True,
                )
            # The compaction's peak (semantic_engine.KEEP_AFTER_S) lasts a few seconds: the
            # samples above may miss it, the kernel's high-water mark does not.
            print(f"  peak RSS of the worker since {since}: {peak_rss(target.pid)}", flush=True)


def visible(client: httpx.Client, key: str, tools: int, writes: int) -> None:
    """Patch `writes` tools one at a time (a quiet second between them, so that each is a
    single write's index build, not one coalesced with the last) and time each from the
    patch's answer to the first select that answers with the patched tool: a request
    naming a word only the new description holds, sent every ~10 ms."""
    auth = {"Authorization": f"Bearer {key}"}
    headers = auth | {"Content-Type": "application/merge-patch+json", "If-Match": "*"}
    took: list[float] = []
    # Other tools and words each run: a tool --baseline-src's run patched holds "disk usage"
    # in a short description, so it ranked among ours' candidates before our patch was in.
    run = time.monotonic_ns() % 10**9
    for k in range(writes):
        name = f"gen_tool_{(k * 7919 + 17 + run) % tools:05d}"
        word = f"zq{k}visible{os.getpid()}r{run}"
        body = json.dumps({"description": f"checks {word} disk usage, written by the bench"})
        answer = client.patch(f"/api/v1/tools/{name}", content=body, headers=headers)
        answer.raise_for_status()
        committed = time.perf_counter()
        request = {"request": f"{word} disk usage", "top_k": 5}
        while True:
            got = client.post("/api/v1/select", json=request, headers=auth).json()
            if any(c["tool"] == name for c in got.get("candidates", [])):
                break
            if time.perf_counter() - committed > 120:
                raise SystemExit(f"the patch of {name} was not selected within 120 s")
            time.sleep(0.01)
        took.append(time.perf_counter() - committed)
        time.sleep(1.0)
    took.sort()
    print(
        f"write -> first select answering with it ({writes} patches, {got.get('retrieval')}):"
        f" median {took[len(took) // 2] * 1000:,.0f} ms, max {took[-1] * 1000:,.0f} ms"
        f" (each: {', '.join(f'{t * 1000:,.0f}' for t in took)})",
        flush=True,
    )


def kinds(args: argparse.Namespace) -> dict[str, list[Op]]:
    names = [f"gen_tool_{i:05d}" for i in range(0, args.tools, max(1, args.tools // 1000))]
    select = json.dumps({"request": "check disk usage with generated tool 4242"})
    return {
        "get (1,000 tools spread)": [Op("get", "GET", f"/api/v1/tools/{n}", 1) for n in names],
        "list (50 a page)": [Op("list", "GET", "/api/v1/tools?limit=50", 1)],
        "list, filtered (platform)": [
            Op("list", "GET", "/api/v1/tools?platform=linux&limit=50", 1)
        ],
        "search (10 a page)": [
            Op("search", "GET", "/api/v1/tools?q=disk%20usage%20tool%204242&limit=10", 1)
        ],
        # Every tool holds "generated tool": all of them match and are ranked.
        "search, broad (10 a page)": [
            Op("search", "GET", "/api/v1/tools?q=generated%20tool&limit=10", 1)
        ],
        "select": [
            Op(
                "select",
                "POST",
                "/api/v1/select",
                1,
                select,
                {"Content-Type": "application/json"},
            )
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("--select-connections", type=int, default=8)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="with --database-url: its tools are already in"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="another checkout's src folder: its start measured first, on the same database",
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="our worker's TOOLCATALOG_HOME, kept between runs (its saved catalog version "
        "makes the first start a restart)",
    )
    parser.add_argument(
        "--baseline-home",
        type=Path,
        help="the baseline's TOOLCATALOG_HOME, kept between runs as --home is ours (a "
        "restart of each, measured in one run)",
    )
    parser.add_argument(
        "--writes",
        type=int,
        default=0,
        help="then patch this many tools through our (last) worker, each timed from its "
        "commit to the first select answering with it",
    )
    parser.add_argument(
        "--watch-after-writes",
        type=float,
        default=WRITES_SETTLE_S,
        metavar="S",
        help=f"after --writes, read the worker's RSS every {WATCH_EVERY_S:.0f} s for this "
        f"many seconds (default {WRITES_SETTLE_S:.0f}: once the scan is kept in its file)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="once our worker has saved its catalog version, start it again and measure",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolcatalog-scale-") as name:
        folder = Path(name)
        if args.database_url:
            args.import_s = (
                0.0 if args.reuse else asyncio.run(import_tools(args.tools, args.database_url))
            )
            measure(args, args.database_url, folder)
            return
        with embedded_database(folder) as url:
            args.import_s = asyncio.run(import_tools(args.tools, url))
            measure(args, url, folder)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
