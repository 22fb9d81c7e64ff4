"""Load benchmark for `toolcatalog serve`: throughput, latency and errors under a request mix,
against the ceiling of a bare FastAPI app returning the same bytes, in the same run.

    python bench/load.py                    # the suite: starts its own PostgreSQL and servers
                                            # (bare 1w, ours 1w, ours 2w, bare 2w), interleaved
    python bench/load.py --url http://127.0.0.1:3005 --mix get=80,list=10,search=10
    python bench/load.py --mixes --rounds 1 -d 5   # the suite plus the mixes of issue #14
    python bench/load.py --mixes --rounds 1 -d 5 --baseline-src /tmp/base/src
                                            # ... and the same mixes against another checkout

Uses wrk when installed (`apt-get install wrk`; in C, it leaves the CPU to the server), else
an asyncio client (`--client python`) whose figures are a floor: on a small machine it takes
CPU from the server it measures. Mix kinds: get (a cached GET /api/v1/tools/{name}), list,
search, select, create, update (PUT), patch (merge patch); kinds whose route the server lacks
are skipped, with a line. GETs are spread over every tool of the catalog (`--one-tool`: the
same one each time).
Under each mix, each kind's own latency (p50/p99/max), sampled by one more connection per kind
beside the run (drivers.KindSampler): which kind forms the mix's tail.
Percentiles are the answers' own (drivers.run_wrk takes out the samples wrk's coordinated-omission
correction adds; sessions before 17 quoted wrk's corrected figures); each mix also prints wrk's
own p99, the figure an open-loop client that kept sending through a stall would see.
Each row says how the machine's CPU was shared: the server, the client, everything else
(PostgreSQL, and other work on the machine that makes a figure less trustworthy).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from drivers import KindSampler, Measurement, Op, run_python, run_wrk, wrk_available
from servers import (
    CpuShare,
    Target,
    bare_server,
    cpu_watch,
    create_api_key,
    embedded_database,
    toolcatalog_server,
)

DEFAULT_MIX = "get=90,list=2,search=3,select=3,update=1,create=1"
# The mixes of issue #14: an agent fleet reading while editors change tools.
MIXES = (
    "get=90,list=2,search=3,select=3,patch=2",
    "get=98,patch=2",
    "get=95,list=5",
    "get=95,search=5",
    "get=95,select=5",
)
# The one request of the select kind unless --select-requests names others.
SELECT_REQUEST = "which process is using the most memory on web1"


@dataclass(slots=True)
class Run:
    m: Measurement
    cpu: CpuShare
    hit_rate: float | None = None
    kinds: str | None = None  # each kind's latency, sampled beside the run (KindSampler)


# ------------------------------------------------------------------------------------ mix


def parse_mix(spec: str) -> dict[str, int]:
    mix: dict[str, int] = {}
    for part in spec.split(","):
        kind, _, weight = part.partition("=")
        mix[kind.strip()] = int(weight or 1)
    unknown = set(mix) - {"get", "list", "search", "select", "create", "update", "patch"}
    if unknown:
        raise SystemExit(f"unknown mix kinds: {', '.join(sorted(unknown))}")
    return mix


def _post_path(openapi: dict[str, Any], word: str) -> str | None:
    for path, methods in openapi.get("paths", {}).items():
        if word in path.split("/") and "post" in methods:
            return str(path)
    return None


def every_tool(client: httpx.Client) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        params = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/tools", params=params).json()
        names += [item["name"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return names


def select_texts(path: Path | None, unique: bool = False) -> list[str]:
    """The select kind's request texts: SELECT_REQUEST, or each line of `path` (JSON lines
    with a "query" or "request" field, or plain text lines). `unique`: each request made new
    (its text and a number unique per request), so nothing it asks was asked before."""
    texts = [SELECT_REQUEST]
    if path is not None:
        texts = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                record = json.loads(line)
                line = str(record.get("query") or record.get("request") or "")
            if line:
                texts.append(line)
        if not texts:
            raise SystemExit(f"{path}: no request in it")
    # {n} becomes a number unique per request in the run (drivers.Op).
    return [f"{t} {{n}}" for t in texts] if unique else texts


def build_ops(
    base: str,
    mix: dict[str, int],
    tool: str,
    api_key: str | None,
    *,
    spread: bool = True,
    selects: list[str] | None = None,
) -> list[Op]:
    """The weighted requests; prints the kinds it has to skip and why. With `spread`, one
    GET per tool of the catalog, the other kinds weighted to keep the mix's proportions.
    `selects`: the select kind's request texts (select_texts), drawn alike."""
    selects = selects or [SELECT_REQUEST]
    client = httpx.Client(base_url=base, timeout=10)
    names = every_tool(client) if spread and mix.get("get") else [tool]
    scale = len(names) / mix["get"] if mix.get("get") and spread else 1.0
    openapi = client.get("/openapi.json").json()
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    json_headers = {"Content-Type": "application/json", **auth}
    template = client.get(f"/api/v1/tools/{tool}").json()
    token = secrets.token_hex(3)
    ops: list[Op] = []
    for kind, weight in mix.items():
        if weight <= 0:
            continue
        if kind == "get":
            ops += [Op(kind, "GET", f"/api/v1/tools/{n}", 1 if spread else weight) for n in names]
            continue
        weight = max(1, round(weight * scale))
        if kind == "list":
            ops.append(Op(kind, "GET", "/api/v1/tools?limit=50", weight))
        elif kind == "search":
            ops.append(Op(kind, "GET", "/api/v1/tools?q=disk%20usage&limit=10", weight))
        elif kind == "select":
            path = _post_path(openapi, "select")
            if path is None:
                print("  skipped select: the server has no POST .../select route", flush=True)
                continue
            for text in selects:
                body = json.dumps({"request": text})
                ops.append(Op(kind, "POST", path, weight, body, json_headers))
        elif kind == "create":
            doc = template | {"name": f"bench_{token}_{{n}}", "description": "bench {n}"}
            ops.append(Op(kind, "POST", "/api/v1/tools", weight, json.dumps(doc), json_headers))
        elif kind in ("update", "patch"):
            # Eight rows, so that updates do not all queue on one row lock.
            for k in range(8):
                doc = template | {"name": f"bench_{token}_target_{k}", "description": "bench"}
                made = client.post("/api/v1/tools", json=doc, headers=auth)
                if made.status_code >= 400:
                    print(f"  skipped update: creating a target gave {made.status_code}")
                    break
            else:
                path = f"/api/v1/tools/bench_{token}_target_{{k}}"
                # Blind overwrites by design (If-Match: *): the server requires the header.
                put_headers = json_headers | {"If-Match": "*"}
                if kind == "patch":
                    body = json.dumps({"description": "patched {n}"})
                    ops.append(Op(kind, "PATCH", path, weight, body, put_headers))
                    continue
                doc = template | {"name": f"bench_{token}_target_{{k}}", "description": "up {n}"}
                ops.append(Op(kind, "PUT", path, weight, json.dumps(doc), put_headers))
    if any(op.kind == "select" for op in ops) and len(selects) > 1:
        # Each select text has the kind's weight: the other kinds' are scaled alike.
        ops = [
            op if op.kind == "select" else replace(op, weight=op.weight * len(selects))
            for op in ops
        ]
    return ops


# ------------------------------------------------------------------------------- measuring


def _drive(url: str, ops: list[Op], args: argparse.Namespace, seconds: float) -> Measurement:
    if args.client == "wrk" or (args.client == "auto" and wrk_available()):
        return run_wrk(
            url, ops, connections=args.connections, seconds=seconds, threads=args.threads
        )
    return run_python(url, ops, connections=args.connections, seconds=seconds)


def cache_counts(base: str) -> tuple[int, int]:
    cache = httpx.get(base + "/api/v1/tools/metrics", timeout=10).json()["cache"]
    return int(cache["hits"]), int(cache["misses"])


def measure(target: Target, ops: list[Op], args: argparse.Namespace, ours: bool = True) -> Run:
    """One warm-up second, then the timed run with the CPU accounted and, for our server,
    the cache hit rate over the run (from its own metrics)."""
    _drive(target.url, ops, args, 1)
    before = cache_counts(target.url) if ours else (0, 0)
    mixed = len({op.kind for op in ops}) > 1
    with (
        KindSampler(target.url, ops) if mixed else contextlib.nullcontext() as sampler,
        cpu_watch(target) as cpu,
    ):
        m = _drive(target.url, ops, args, args.duration)
    hit_rate = None
    if ours:
        hits, misses = (a - b for a, b in zip(cache_counts(target.url), before, strict=True))
        hit_rate = 100 * hits / (hits + misses) if hits + misses else None
    return Run(m, cpu[0], hit_rate, sampler.summary() if sampler is not None else None)


def representative(runs: list[Run]) -> Run:
    """The median of the quiet rounds: those the rest of the machine disturbed least (within
    5 points of CPU of the quietest). On a shared machine a plain median mixes in other
    people's work; every round is printed too."""
    calm = min(r.cpu.other for r in runs) + 5
    quiet = sorted((r for r in runs if r.cpu.other <= calm), key=lambda r: r.m.rps)
    return quiet[len(quiet) // 2]


HEADER = (
    f"{'run':<40}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}{'err':>6}{'hit %':>8}"
    f"{'req/cpu-s':>10}   cpu % server/client/other"
)


def row(label: str, run: Run) -> str:
    m, cpu = run.m, run.cpu
    hit = f"{run.hit_rate:8.2f}" if run.hit_rate is not None else f"{'-':>8}"
    shares = f"{cpu.server:5.1f} /{cpu.client:5.1f} /{cpu.other:5.1f}"
    errors = f"  errors: {m.error_detail}" if m.error_detail else ""
    return (
        f"{label:<40}{m.rps:>8.0f}{m.p50_ms:>7.1f}{m.p95_ms:>7.1f}{m.p99_ms:>7.1f}"
        f"{m.max_ms:>8.1f}{m.errors:>6}{hit}{efficiency(run) or 0:>10.0f}   {shares}{errors}"
    )


def efficiency(run: Run) -> float | None:
    """Requests per second of server CPU: what a request costs, whatever the neighbours do."""
    cores = os.cpu_count() or 1
    return run.m.rps / (run.cpu.server / 100 * cores) if run.cpu.server else None


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import uvicorn

    return (
        f"{os.cpu_count()} CPU ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, uvicorn {uvicorn.__version__}"
    )


# ------------------------------------------------------------------------------------ runs


def run_single(args: argparse.Namespace) -> None:
    """Drive an already running server (CPU shares then count the whole machine as other)."""
    ops = build_ops(args.url, parse_mix(args.mix), args.tool, args.api_key, selects=args.selects)
    print(HEADER)
    print(row(f"mix {args.mix}", measure(Target(args.url), ops, args)))
    if args.bare_url:
        get = [Op("get", "GET", f"/api/v1/tools/{args.tool}", 1)]
        print(row("bare FastAPI", measure(Target(args.bare_url), get, args, ours=False)))


@contextmanager
def _database(args: argparse.Namespace, work: Path) -> Iterator[str]:
    if args.database_url:
        yield args.database_url
        return
    with embedded_database(work) as url:
        yield url


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """PostgreSQL, the bare app and toolcatalog with 1 and N workers, each measured
    `--rounds` times, interleaved so that drift and neighbours hit both alike."""
    work = Path(tempfile.mkdtemp(prefix="toolcatalog-bench-"))
    logs = work / "logs"
    logs.mkdir()
    get = [Op("get", "GET", f"/api/v1/tools/{args.tool}", 1)]
    client = (
        "wrk" if args.client == "wrk" or (args.client == "auto" and wrk_available()) else "python"
    )
    print(f"machine: {machine()}")
    print(
        f"client: {client}, {args.connections} connections, {args.duration:g} s per run, "
        f"{args.rounds} round(s), the median of the least disturbed shown",
        flush=True,
    )
    n = args.workers
    results: dict[str, Run] = {}
    every: dict[str, list[Run]] = {}
    with _database(args, work) as url:
        home = work / "home"
        ours_settings = _select_process(args.select_process)
        with toolcatalog_server(url, home, 1, logs, **ours_settings) as ours:
            body_file = work / "body.json"
            body_file.write_bytes(httpx.get(f"{ours.url}/api/v1/tools/{args.tool}").content)
            with (
                bare_server(body_file, 1, logs) as bare,
                toolcatalog_server(
                    url, home, 1, logs, access_log="false", **ours_settings
                ) as quiet,
            ):
                rounds: dict[str, list[Run]] = {"bare_1w": [], "get_1w": [], "get_1w_nolog": []}
                for _ in range(args.rounds):
                    rounds["bare_1w"].append(measure(bare, get, args, ours=False))
                    rounds["get_1w"].append(measure(ours, get, args))
                    rounds["get_1w_nolog"].append(measure(quiet, get, args))
            every |= rounds
            if args.mix and args.mixes is None:
                key = args.api_key or create_api_key(url, f"bench_{secrets.token_hex(3)}")
                ops = build_ops(ours.url, parse_mix(args.mix), args.tool, key, selects=args.selects)
                every["mix_1w"] = [measure(ours, ops, args)]
            if args.mixes is not None:
                every |= run_mixes(ours, url, args)
        if n > 1:
            with (
                toolcatalog_server(url, home, n, logs, **ours_settings) as ours_n,
                bare_server(body_file, n, logs) as bare_n,
            ):
                rounds = {"get_nw": [], "bare_nw": []}
                for _ in range(args.rounds):
                    rounds["get_nw"].append(measure(ours_n, get, args))
                    rounds["bare_nw"].append(measure(bare_n, get, args, ours=False))
            every |= rounds
    results |= {k: representative(v) for k, v in every.items()}
    labels = {
        "bare_1w": "bare FastAPI, same bytes (1 worker)",
        "get_1w": "cached GET (1 worker)",
        "get_1w_nolog": "cached GET, access log off (1 worker)",
        "mix_1w": "mix (1 worker)",
        "get_nw": f"cached GET ({n} workers)",
        "bare_nw": f"bare FastAPI ({n} workers)",
    }
    print()
    print(HEADER)
    for key, label in labels.items():
        if key in results:
            print(row(label, results[key]))
    if "mix_1w" in results:
        print(f"mix: {args.mix}")
    for key, runs in every.items():
        rounds_text = ", ".join(f"{r.m.rps:.0f} ({r.cpu.other:.0f}% other)" for r in runs)
        print(f"  rounds of {key}: {rounds_text}")
    figures: dict[str, Any] = {"machine": machine(), "client": client}
    get_1w, bare_1w = results["get_1w"].m, results["bare_1w"].m
    figures["get_ratio"] = get_1w.rps / bare_1w.rps
    cost = (efficiency(results["get_1w"]) or 0) / (efficiency(results["bare_1w"]) or 1)
    print()
    print(f"cached GET / bare (1 worker):  {figures['get_ratio']:.2f}   target >= 0.80")
    print(f"  the same per CPU-second:     {cost:.2f}")
    print(f"cached GET p99 (1 worker):     {get_1w.p99_ms:.1f} ms   target <= 30 ms")
    print(f"errors (cached GET, 1 worker): {get_1w.errors}   target 0")
    if "get_nw" in results:
        figures["workers_ratio"] = results["get_nw"].m.rps / get_1w.rps
        figures["bare_workers_ratio"] = results["bare_nw"].m.rps / bare_1w.rps
        print(
            f"{n} workers / 1 worker:         {figures['workers_ratio']:.2f}   target >= 1.60 "
            f"(bare FastAPI: {figures['bare_workers_ratio']:.2f})"
        )
    figures["runs"] = {
        k: [asdict(r.m) | {"rps": r.m.rps, "cpu": asdict(r.cpu), "hit_rate": r.hit_rate} for r in v]
        for k, v in every.items()
    }
    shutil.rmtree(work, ignore_errors=True)
    return figures


def run_mixes(ours: Target, url: str, args: argparse.Namespace) -> dict[str, list[Run]]:
    """Issue #14's mixes on one worker, each beside a pure GET spread over every tool in the
    same window; prints the targets (mix p99 <= 50 ms, default mix >= 0.25x pure GET). With
    `--baseline-src`, the same mixes against that checkout (its own database and server),
    interleaved with ours so that both see the same neighbours."""
    servers: list[tuple[str, Target, str, Path | None]] = [("", ours, url, None)]
    with contextlib.ExitStack() as stack:
        if args.baseline_src:
            work = Path(tempfile.mkdtemp(prefix="toolcatalog-baseline-"))
            stack.callback(shutil.rmtree, work, ignore_errors=True)
            (work / "logs").mkdir()
            base_url = stack.enter_context(embedded_database(work))
            base = stack.enter_context(
                toolcatalog_server(
                    base_url,
                    work / "home",
                    1,
                    work / "logs",
                    source=args.baseline_src,
                    **_select_process(args.baseline_select_process),
                )
            )
            servers.append(("baseline ", base, base_url, args.baseline_src))
        return _measure_mixes(servers, args)


def _select_process(value: str | None) -> dict[str, str]:
    return {} if value is None else {"select_process": value}


def _measure_mixes(
    servers: list[tuple[str, Target, str, Path | None]], args: argparse.Namespace
) -> dict[str, list[Run]]:
    prepared = []
    for name, target, url, source in servers:
        key = args.api_key or create_api_key(url, f"bench_{secrets.token_hex(3)}", source=source)
        prepared.append((name, target, key, build_ops(target.url, {"get": 1}, args.tool, key)))
    out: dict[str, list[Run]] = {}
    print()
    print(HEADER)
    for spec in args.mixes or MIXES:
        for name, target, key, spread_get in prepared:
            out.setdefault(f"{name}get_spread", []).append(
                pure := measure(target, spread_get, args)
            )
            ops = build_ops(target.url, parse_mix(spec), args.tool, key, selects=args.selects)
            out[f"{name}mix {spec}"] = [run := measure(target, ops, args)]
            print(row(f"{name}pure GET, every tool", pure))
            print(row(f"{name}mix {spec}", run))
            if run.kinds:
                print(f"  per kind, n: p50/p99/max ms (one connection each, beside): {run.kinds}")
            ratio = run.m.rps / pure.m.rps if pure.m.rps else 0
            wrk = run.m.wrk_p99_ms
            corrected = f"; wrk's own p99 {wrk:.1f} ms" if wrk is not None else ""
            print(
                f"  p99 {run.m.p99_ms:.1f} ms (target <= 50{corrected}), {ratio:.2f}x pure GET "
                f"(target >= 0.25 for the first), errors {run.m.errors}",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="drive this running server instead of the suite")
    parser.add_argument("--bare-url", help="with --url: a bare app to compare against")
    parser.add_argument("--database-url", help="suite: use this PostgreSQL (default: embedded)")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="suite: runs per figure")
    parser.add_argument("--workers", type=int, default=2, help="suite: the multi-worker run")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... ({DEFAULT_MIX})")
    parser.add_argument(
        "--mixes",
        nargs="*",
        metavar="MIX",
        help="suite: the mixes of issue #14 (see MIXES), or only the mixes named "
        "(`--mixes get=98,patch=2`, to iterate on one)",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="with --mixes: also measure the mixes against this checkout's src folder "
        "(e.g. `git archive main | tar -x -C /tmp/base`, then /tmp/base/src), interleaved",
    )
    parser.add_argument(
        "--select-process",
        choices=["on", "off", "auto"],
        help="TOOLCATALOG_SELECT_PROCESS of our servers (default: the tree's default)",
    )
    parser.add_argument(
        "--baseline-select-process",
        choices=["on", "off", "auto"],
        help="the same for the --baseline-src server (with this tree as the baseline: "
        "selection in a process against in the worker, interleaved)",
    )
    parser.add_argument(
        "--select-requests",
        type=Path,
        help="the select kind's requests, drawn at random: JSON lines with a query or request "
        "field (bench/data/heldout-queries.jsonl) or text lines (default: one fixed request)",
    )
    parser.add_argument(
        "--select-unique",
        action="store_true",
        help="make every select a request never asked before (a number unique per request "
        "added to its text): the cost of new requests, nothing remembered",
    )
    parser.add_argument("--tool", default="grep", help="the tool of the cached GET")
    parser.add_argument("--api-key", default=os.environ.get("TOOLCATALOG_API_KEY"))
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.selects = select_texts(args.select_requests, args.select_unique)
    if args.url:
        run_single(args)
        return
    figures = run_suite(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
