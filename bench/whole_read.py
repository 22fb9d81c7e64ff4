"""A first start's catalog read (issue #14): every stored tool read, validated and encoded
into a catalog version through the runtime, with no saved version, timed in wall and CPU
seconds, interleaved with another checkout's.

    python bench/whole_read.py --tools 20000 --rounds 2 --baseline-src B/src

N generated tools (bench/import_bench.py's generator) are imported once into a fresh embedded
PostgreSQL (or --database-url, --reuse when its tools are in already); then, per round, each
checkout reads them in a process of its own (the baseline first): `open_runtime` without the
listener, then the whole read `get_all_tools_with_structure` makes at a first start, with a
fresh empty home, and database statements allowed --statement-timeout seconds (the default
5 s failed the base's one-statement fetch at 100,000 tools on a busy machine). Printed per
read: wall seconds, the process's CPU seconds (the figure to
compare on a busy machine: the wall time there is mostly the scheduler's) and its peak RSS.
Semantic retrieval and the selector's index are not part of it (bench/scale.py times a whole
start)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import import_tools
from servers import embedded_database

BENCH = Path(__file__).resolve().parent


async def read_once(url: str, home: Path, timeout_s: float) -> dict[str, float]:
    """The whole read in this process (the checkout on its path)."""
    from toolcatalog.config import Settings
    from toolcatalog.runtime import open_runtime

    settings = Settings(
        database_url=url,
        import_on_start=False,
        catalog_dir=None,
        home=home,
        semantic=False,
        db_command_timeout_s=timeout_s,
    )
    async with open_runtime(settings, listen=False) as runtime:
        wall, cpu = time.perf_counter(), time.process_time()
        snapshot = await runtime.catalog.get_all_tools_with_structure()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tools": len(snapshot.tools), "wall_s": wall, "cpu_s": cpu, "peak_mib": peak}


def read_in_process(url: str, source: Path | None, timeout_s: float) -> dict[str, float] | str:
    """The read's figures, or the last line of its error."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with tempfile.TemporaryDirectory(prefix="toolcatalog-read-") as home:
        command = [sys.executable, str(Path(__file__)), "--read", url, "--home", home]
        done = subprocess.run(
            [*command, "--statement-timeout", str(timeout_s)],
            env=env, cwd=BENCH, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(args: argparse.Namespace, url: str) -> None:
    trees: list[tuple[str, Path | None]] = [("ours", None)]
    if args.baseline_src is not None:
        trees.insert(0, ("baseline", args.baseline_src))
    for round_ in range(1, args.rounds + 1):
        for name, source in trees:
            load = os.getloadavg()[0]
            got = read_in_process(url, source, args.statement_timeout)
            if isinstance(got, str):
                print(f"round {round_} {name:<8} failed: {got}  (load {load:.1f})", flush=True)
                continue
            print(
                f"round {round_} {name:<8} {got['tools']:>7,.0f} tools  wall {got['wall_s']:6.1f} s"
                f"  CPU {got['cpu_s']:6.1f} s  peak RSS {got['peak_mib']:7,.0f} MiB"
                f"  (load {load:.1f})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reuse", action="store_true", help="the database's tools are in")
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src folder")
    parser.add_argument("--statement-timeout", type=float, default=600.0, metavar="S")
    parser.add_argument("--read", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(asyncio.run(read_once(args.read, args.home, args.statement_timeout))))
        return
    if args.database_url:
        if not args.reuse:
            print(f"import: {asyncio.run(import_tools(args.tools, args.database_url)):.1f} s")
        measure(args, args.database_url)
        return
    with (
        tempfile.TemporaryDirectory(prefix="toolcatalog-read-") as name,
        embedded_database(Path(name)) as url,
    ):
        print(f"import: {asyncio.run(import_tools(args.tools, url)):.1f} s")
        measure(args, url)


if __name__ == "__main__":
    sys.exit(main())
