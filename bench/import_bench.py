"""Import N generated tools (3 capabilities x 2 patterns each) into a fresh database and print
tools/s and peak memory. Target: 10,000 tools in under 15 s on a 2-core machine.
With `--terse`, terse tools instead (bench/terse.py: a name and a one-sentence description;
6,608 of them, the tldr pages' count, should import in under 10 s).

    python bench/import_bench.py [--tools 10000] [--terse] [--database-url URL]
    python bench/import_bench.py --baseline-src /tmp/base/src   # then the same with old code

Without --database-url (or DATABASE_URL) a private embedded PostgreSQL is started in a
temporary folder and removed afterwards; then the import's CPU is printed split between this
process and PostgreSQL's (every process of that server), which on a shared machine says more
than the wall time. `--statements` also prints, per statement of the import, the CPU of
the server process that ran it (read from /proc, so a local server) and of the event loop's
thread, and the wall time. `--baseline-src DIR` runs the same import again in a fresh process with
the `toolcatalog` package of DIR (e.g. `git archive main | tar -x -C /tmp/base`), alternating
`--rounds` times. `--files` writes the generated tools to a folder of JSON files first and
loads and validates them as `toolcatalog import FOLDER` does (formats.load_paths), timed
apart, then imports what it loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil
from terse import generated_terse

import toolcatalog
from toolcatalog.catalog.service import Actor, ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.formats.definitions import load_paths
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.store.database import Database
from toolcatalog.store.embedded import EmbeddedPostgres
from toolcatalog.store.migrate import migrate

PLATFORMS = ["linux", "windows", "cross-platform", "kubernetes", "cloud", "custom"]
CAPABILITIES = ["disk_usage", "process_list", "log_search", "dns_lookup", "metrics_query"]


BENCH = Path(__file__).resolve().parent


def generate(n: int) -> list[Tool]:
    tools = []
    for i in range(n):
        caps = []
        for c in range(3):
            cap = CAPABILITIES[(i + c) % len(CAPABILITIES)]
            caps.append(
                {
                    "name": cap,
                    "description": f"{cap.replace('_', ' ')} as done by generated tool {i}.",
                    "patterns": [
                        {
                            "name": f"pattern_{p}",
                            "description": f"Way {p} of doing {cap} with tool {i}.",
                            "typical_use_cases": [f"use case {p}", f"{cap} check"],
                            "inputs": {
                                "type": "object",
                                "properties": {"N": {"type": "integer", "default": 10}},
                            },
                            "profile": {
                                "time_estimate_ms": f"{50 + p * 100} + 5 * N",
                                "cost_estimate": 1 + p,
                                "complexity": 0.2 + 0.3 * p,
                                "accuracy": 0.7 + 0.1 * p,
                                "completeness": 0.6 + 0.2 * p,
                                "limitations": ["generated"],
                            },
                            "policy": {"production_safe": p == 0, "requires_approval": p == 1},
                        }
                        for p in range(2)
                    ],
                }
            )
        tools.append(
            Tool.model_validate(
                {
                    "name": f"gen_tool_{i:05d}",
                    "description": f"Generated tool number {i} for the import benchmark.",
                    "platform": PLATFORMS[i % len(PLATFORMS)],
                    "category": f"category_{i % 20}",
                    "tags": [f"tag{i % 50}", "generated"],
                    "capabilities": caps,
                    "examples": [f"do the thing number {i}", f"check gen tool {i}"],
                }
            )
        )
    return tools


def generate_terse(n: int) -> list[Tool]:
    base = load_folder_snapshot(Path(__file__).resolve().parent.parent / "catalog", strict=False)
    return [Tool.model_validate(d) for d in generated_terse(base, n)]


def server_cpu_s(data_dir: Path | None) -> float:
    """CPU seconds used so far by the embedded server's processes (nan for another server)."""
    try:
        if data_dir is None:
            raise FileNotFoundError
        postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
        procs = [postmaster, *postmaster.children()]
    except (OSError, ValueError, psutil.Error):
        return float("nan")
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            cpu = proc.cpu_times()
            total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
    return total


class StatementCosts:
    """Per statement (a COPY's table, else the SQL's start): calls, the backend's CPU (from
    /proc/PID/stat around the call, so a server on this machine), the event loop thread's
    CPU and the wall time. Installed by wrapping asyncpg's connection methods."""

    METHODS = ("copy_records_to_table", "fetch", "execute", "fetchval", "fetchrow")

    def __init__(self) -> None:
        self.costs: dict[str, list[float]] = {}
        self.tick = os.sysconf("SC_CLK_TCK")

    def backend_cpu_s(self, pid: int) -> float:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(stat[11]) + int(stat[12])) / self.tick

    def install(self) -> None:
        for name in self.METHODS:
            setattr(asyncpg.Connection, name, self._wrapped(name))

    def _wrapped(self, name: str) -> Any:
        original = getattr(asyncpg.Connection, name)

        async def call(conn: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            key = args[0] if name == "copy_records_to_table" else " ".join(str(args[0]).split())
            pid = conn.get_server_pid()
            backend, loop, wall = self.backend_cpu_s(pid), time.thread_time(), time.perf_counter()
            try:
                return await original(conn, *args, **kwargs)
            finally:
                cost = self.costs.setdefault(key[:60], [0, 0.0, 0.0, 0.0])
                cost[0] += 1
                cost[1] += self.backend_cpu_s(pid) - backend
                cost[2] += time.thread_time() - loop
                cost[3] += time.perf_counter() - wall

        return call

    def print(self) -> None:
        print("  per statement: calls, backend CPU, loop CPU, wall (s)")
        for key, (calls, backend, loop, wall) in sorted(
            self.costs.items(), key=lambda kv: -kv[1][1]
        ):
            if backend + loop >= 0.01:
                print(f"  {calls:6.0f} {backend:7.2f} {loop:7.2f} {wall:7.2f}  {key}")


def loaded_from_folder(tools: list[Tool], folder: Path) -> list[Tool]:
    """`tools` written to `folder` as JSON files of 1,000 tools (a file may hold 5 MiB), then
    loaded and validated from there."""
    folder.mkdir()
    for i in range(0, len(tools), 1_000):
        docs = [t.document() for t in tools[i : i + 1_000]]
        (folder / f"tools_{i // 1_000:04d}.json").write_bytes(orjson.dumps({"tools": docs}))
    del tools[:]
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = load_paths([folder])
    result.raise_if_invalid()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    print(f"load + validate {size:.0f} MiB of files: {wall:.2f} s  (CPU {cpu:.2f} s)")
    return [loaded.tool for loaded in result.tools]


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(
    n: int,
    url: str,
    terse: bool = False,
    data_dir: Path | None = None,
    statements: StatementCosts | None = None,
    folder: Path | None = None,
) -> None:
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    settings = Settings(
        database_url=url, import_on_start=False, catalog_dir=None, db_command_timeout_s=3600
    )
    db = Database(settings)
    await db.open()
    service = ToolCatalogService(db, settings)
    t0, cpu0 = time.perf_counter(), time.process_time()
    tools = generate_terse(n) if terse else generate(n)
    cpu_models = time.process_time() - cpu0
    if folder is not None:
        tools = loaded_from_folder(tools, folder)
    if statements is not None:
        statements.install()
    client0, server0 = client_cpu_s(), server_cpu_s(data_dir)
    t1 = time.perf_counter()
    report = await service.import_definitions(tools, actor=Actor("bench"))
    t2 = time.perf_counter()
    client1, server1 = client_cpu_s(), server_cpu_s(data_dir)
    costs = dict(statements.costs) if statements is not None else None
    if statements is not None:
        statements.costs = {}
    again = await service.import_definitions(tools, actor=Actor("bench"))
    t3 = time.perf_counter()
    client2, server2 = client_cpu_s(), server_cpu_s(data_dir)
    await db.close()
    patterns = sum(t.pattern_count() for t in tools)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"code: {Path(toolcatalog.__file__).parent}; load average {os.getloadavg()[0]:.1f}")
    print(f"tools: {n} ({patterns} patterns); created {len(report.created)}")
    print(f"generate + validate models: {t1 - t0:.2f} s  (CPU {cpu_models:.2f} s)")
    print(f"import (one transaction):   {t2 - t1:.2f} s  -> {n / (t2 - t1):,.0f} tools/s")
    print(f"  CPU: client {client1 - client0:.2f} s, PostgreSQL {server1 - server0:.2f} s")
    if statements is not None and costs is not None:
        again_costs, statements.costs = statements.costs, costs
        statements.print()
    print(f"re-import, all unchanged:   {t3 - t2:.2f} s  ({len(again.unchanged)} unchanged)")
    print(f"  CPU: client {client2 - client1:.2f} s, PostgreSQL {server2 - server1:.2f} s")
    if statements is not None:
        statements.costs = again_costs
        statements.print()
    print(f"peak RSS: {peak_mb:.0f} MiB")


def compare(args: argparse.Namespace) -> None:
    """The baseline's import and ours, alternating, each in a fresh process and server."""
    ours = Path(__file__).resolve().parent.parent / "src"
    cmd = [sys.executable, __file__, "--tools", str(args.tools), *(["--terse"] * args.terse)]
    cmd += ["--statements"] * args.statements + ["--files"] * args.files
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    for _ in range(args.rounds):
        for src in (args.baseline_src.resolve(), ours):
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(BENCH)])}
            subprocess.run(cmd, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=10_000)
    parser.add_argument("--terse", action="store_true", help="terse tools (bench/terse.py)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--baseline-src", type=Path, help="old code's src/ to compare with")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline-src")
    parser.add_argument("--statements", action="store_true", help="the import's cost per statement")
    parser.add_argument("--files", action="store_true", help="load and validate from JSON files")
    args = parser.parse_args()
    statements = StatementCosts() if args.statements else None
    if args.baseline_src:
        compare(args)
        return
    with tempfile.TemporaryDirectory(prefix="toolcatalog-bench-") as folder:
        files = Path(folder) / "tools" if args.files else None
        if args.database_url:
            asyncio.run(run(args.tools, args.database_url, args.terse, None, statements, files))
            return
        server = EmbeddedPostgres(Path(folder) / "pgdata", cleanup="delete")
        try:
            data_dir = Path(folder) / "pgdata"
            url = server.start()
            asyncio.run(run(args.tools, url, args.terse, data_dir, statements, files))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
