"""Load benchmark for `toolcatalog serve`: throughput, latency and errors under a request mix,
against the ceiling of a bare FastAPI app returning the same bytes, in the same run.

    python bench/load.py                    # the full suite: starts its own PostgreSQL and
                                            # servers (bare 1w, ours 1w, ours 2w, bare 2w)
    python bench/load.py --url http://127.0.0.1:3005 --mix get=80,list=10,search=10

Uses wrk when installed (`apt-get install wrk`; it leaves the CPU to the server), otherwise
an asyncio client (`--client python`) whose figures are a floor: on a small machine it takes
CPU from the server it measures. Mix kinds: get (a cached GET /api/v1/tools/{name}), list,
search, select, create, update; kinds whose route the server does not have are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from drivers import Measurement, Op, run_python, run_wrk, wrk_available

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
DEFAULT_MIX = "get=80,list=5,search=5,select=5,update=4,create=1"


# ------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session, stopped with SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def toolcatalog_server(database_url: str, home: Path, workers: int, logs: Path) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TOOLCATALOG_HOME": str(home),
        "TOOLCATALOG_CATALOG_DIR": str(ROOT / "catalog"),
        "TOOLCATALOG_PORT": str(port),
        "TOOLCATALOG_WORKERS": str(workers),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    exe = shutil.which("toolcatalog", path=str(Path(sys.executable).parent)) or "toolcatalog"
    log = logs / f"toolcatalog-{workers}w.log"
    with process([exe, "serve"], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/api/v1/tools/health", proc, log)
        yield base


@contextmanager
def bare_server(body_file: Path, workers: int, logs: Path) -> Iterator[str]:
    port = free_port()
    log = logs / f"bare-{workers}w.log"
    cmd = [sys.executable, str(BENCH / "bare_app.py"), str(body_file), "--port", str(port)]
    with process([*cmd, "--workers", str(workers)], dict(os.environ), log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/api/v1/tools/x", proc, log)
        yield base


@contextmanager
def embedded_database(folder: Path) -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from toolcatalog.store.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(folder / "pgdata", cleanup="delete")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


# ------------------------------------------------------------------------------------ mix


def parse_mix(spec: str) -> dict[str, int]:
    mix: dict[str, int] = {}
    for part in spec.split(","):
        kind, _, weight = part.partition("=")
        mix[kind.strip()] = int(weight or 1)
    unknown = set(mix) - {"get", "list", "search", "select", "create", "update"}
    if unknown:
        raise SystemExit(f"unknown mix kinds: {', '.join(sorted(unknown))}")
    return mix


def _has_route(openapi: dict[str, Any], method: str, path: str) -> bool:
    return method.lower() in openapi.get("paths", {}).get(path, {})


def _select_path(openapi: dict[str, Any]) -> str | None:
    for path, methods in openapi.get("paths", {}).items():
        if "select" in path and "post" in methods:
            return str(path)
    return None


def build_ops(base: str, mix: dict[str, int], tool: str, api_key: str | None) -> list[Op]:
    """The weighted requests; prints the kinds it has to skip and why."""
    client = httpx.Client(base_url=base, timeout=10)
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
            ops.append(Op(kind, "GET", f"/api/v1/tools/{tool}", weight))
        elif kind == "list":
            ops.append(Op(kind, "GET", "/api/v1/tools?limit=50", weight))
        elif kind == "search":
            ops.append(Op(kind, "GET", "/api/v1/tools?q=disk%20usage&limit=10", weight))
        elif kind == "select":
            path = _select_path(openapi)
            if path is None:
                print("  skipped select: the server has no POST .../select route", flush=True)
                continue
            body = json.dumps({"query": "which process is using the most memory on web1"})
            ops.append(Op(kind, "POST", path, weight, body, json_headers))
        elif kind in ("create", "update"):
            if not _has_route(openapi, "post", "/api/v1/tools"):
                print(f"  skipped {kind}: the server has no POST /api/v1/tools", flush=True)
                continue
            doc = template | {"name": f"bench_{token}_{{n}}", "description": "bench {n}"}
            if kind == "create":
                ops.append(Op(kind, "POST", "/api/v1/tools", weight, json.dumps(doc), json_headers))
                continue
            target = f"bench_{token}_target"
            made = client.post("/api/v1/tools", json=doc | {"name": target}, headers=auth)
            if made.status_code >= 400:
                print(f"  skipped update: creating {target} gave {made.status_code}", flush=True)
                continue
            body = json.dumps(doc | {"name": target, "description": "bench update {n}"})
            ops.append(Op(kind, "PUT", f"/api/v1/tools/{target}", weight, body, json_headers))
    return ops


# ------------------------------------------------------------------------------- measuring


def cache_counts(base: str) -> tuple[int, int]:
    cache = httpx.get(base + "/api/v1/tools/metrics", timeout=10).json()["cache"]
    return int(cache["hits"]), int(cache["misses"])


def measure(base: str, ops: list[Op], args: argparse.Namespace) -> Measurement:
    use_wrk = args.client == "wrk" or (args.client == "auto" and wrk_available())
    if use_wrk:
        run_wrk(base, ops, connections=args.connections, seconds=1, threads=args.threads)
        return run_wrk(
            base, ops, connections=args.connections, seconds=args.duration, threads=args.threads
        )
    run_python(base, ops, connections=args.connections, seconds=1)
    return run_python(base, ops, connections=args.connections, seconds=args.duration)


def measure_ours(base: str, ops: list[Op], args: argparse.Namespace) -> tuple[Measurement, float]:
    hits0, misses0 = cache_counts(base)
    result = measure(base, ops, args)
    hits1, misses1 = cache_counts(base)
    hits, misses = hits1 - hits0, misses1 - misses0
    return result, (100 * hits / (hits + misses) if hits + misses else 0.0)


def median_run(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda m: m.rps)[len(runs) // 2]


def row(label: str, m: Measurement, hit_rate: float | None = None) -> str:
    hit = f"{hit_rate:7.2f}%" if hit_rate is not None else "       -"
    return (
        f"{label:<34}{m.rps:>9.0f}{m.p50_ms:>8.2f}{m.p95_ms:>8.2f}{m.p99_ms:>8.2f}"
        f"{m.max_ms:>9.2f}{m.errors:>8}{hit}"
    )


HEADER = f"{'run':<34}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>9}{'errors':>8}{'hit':>8}"


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
    """Drive an already running server."""
    mix = parse_mix(args.mix)
    ops = build_ops(args.url, mix, args.tool, args.api_key)
    result, hit = measure_ours(args.url, ops, args)
    print(HEADER)
    print(row(f"mix {args.mix}", result, hit))
    if args.bare_url:
        bare = measure(args.bare_url, [Op("get", "GET", f"/api/v1/tools/{args.tool}", 1)], args)
        print(row("bare FastAPI", bare))
        print(f"ratio to bare: {result.rps / bare.rps:.2f}")


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Start PostgreSQL, the bare app and toolcatalog with 1 and 2 workers; measure each."""
    work = Path(tempfile.mkdtemp(prefix="toolcatalog-bench-"))
    logs = work / "logs"
    logs.mkdir()
    get = [Op("get", "GET", f"/api/v1/tools/{args.tool}", 1)]
    out: dict[str, Any] = {"machine": machine()}
    client = (
        "wrk" if args.client == "wrk" or (args.client == "auto" and wrk_available()) else "python"
    )
    print(f"machine: {out['machine']}")
    print(
        f"client: {client}, {args.connections} connections, {args.duration:g} s per run, "
        f"{args.rounds} round(s) (median shown); logs in {logs}",
        flush=True,
    )
    with embedded_database(work) if not args.database_url else _given(args.database_url) as url:
        home = work / "home"
        results: dict[str, Measurement] = {}
        hits: dict[str, float] = {}
        with toolcatalog_server(url, home, 1, logs) as ours:
            body = httpx.get(f"{ours}/api/v1/tools/{args.tool}", timeout=10).content
            body_file = work / "body.json"
            body_file.write_bytes(body)
            with bare_server(body_file, 1, logs) as bare:
                ours_runs, bare_runs, rates = [], [], []
                for _ in range(args.rounds):  # interleaved, so drift hits both alike
                    bare_runs.append(measure(bare, get, args))
                    m, h = measure_ours(ours, get, args)
                    ours_runs.append(m)
                    rates.append(h)
                results["bare_1w"] = median_run(bare_runs)
                results["get_1w"] = median_run(ours_runs)
                hits["get_1w"] = statistics.median(rates)
            if args.mix:
                ops = build_ops(ours, parse_mix(args.mix), args.tool, args.api_key)
                results["mix_1w"], hits["mix_1w"] = measure_ours(ours, ops, args)
        if args.workers > 1:
            with toolcatalog_server(url, home, args.workers, logs) as ours2:
                runs = [measure_ours(ours2, get, args) for _ in range(args.rounds)]
                results["get_nw"] = median_run([m for m, _ in runs])
                hits["get_nw"] = statistics.median(h for _, h in runs)
            with bare_server(body_file, args.workers, logs) as bare2:
                results["bare_nw"] = median_run(
                    [measure(bare2, get, args) for _ in range(args.rounds)]
                )
    n = args.workers
    labels = {
        "bare_1w": "bare FastAPI, same bytes (1 worker)",
        "get_1w": "cached GET (1 worker)",
        "mix_1w": f"mix {args.mix} (1 worker)",
        "get_nw": f"cached GET ({n} workers)",
        "bare_nw": f"bare FastAPI ({n} workers)",
    }
    print()
    print(HEADER)
    for key, label in labels.items():
        if key in results:
            print(row(label, results[key], hits.get(key)))
    get_ratio = results["get_1w"].rps / results["bare_1w"].rps
    print()
    print(f"cached GET / bare (1 worker): {get_ratio:.2f}   target >= 0.80")
    print(f"cached GET p99 (1 worker):    {results['get_1w'].p99_ms:.1f} ms   target <= 30 ms")
    print(f"errors (cached GET runs):     {results['get_1w'].errors}   target 0")
    if "get_nw" in results:
        scale = results["get_nw"].rps / results["get_1w"].rps
        bare_scale = results["bare_nw"].rps / results["bare_1w"].rps
        print(f"{n} workers / 1 worker:        {scale:.2f}   target >= 1.60 "
              f"(bare FastAPI: {bare_scale:.2f})")  # fmt: skip
        out["workers_ratio"] = scale
        out["bare_workers_ratio"] = bare_scale
    out["client"] = client
    out["get_ratio"] = get_ratio
    out["results"] = {
        k: vars(v) | {"rps": v.rps, "hit_rate": hits.get(k)} for k, v in results.items()
    }
    shutil.rmtree(work, ignore_errors=True)
    return out


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="drive this running server instead of the suite")
    parser.add_argument("--bare-url", help="with --url: a bare app to compare against")
    parser.add_argument("--database-url", help="suite: use this PostgreSQL (default: embedded)")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="suite: runs per figure (median)")
    parser.add_argument("--workers", type=int, default=2, help="suite: the multi-worker run")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... ({DEFAULT_MIX})")
    parser.add_argument("--tool", default="grep", help="the tool of the cached GET")
    parser.add_argument("--api-key", default=os.environ.get("TOOLCATALOG_API_KEY"))
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.url:
        run_single(args)
        return
    figures = run_suite(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
