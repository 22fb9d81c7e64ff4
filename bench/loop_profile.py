"""Where the event loop thread's time goes under a mix, by what it was serving: py-spy samples
of one `toolcatalog serve` worker per `--src`, taken while bench/load.py's driver runs the mix
at 64 connections, then shared out by request kind and background task.

    python bench/loop_profile.py --mix get=98,patch=2
    python bench/loop_profile.py --src /tmp/base/src --src src -d 10 --rounds 2
    python bench/loop_profile.py --mix get=95,select=5 --select-unique --gil

Needs `py-spy` on PATH or `--py-spy PATH` (`pip install py-spy`; not a project dependency).
Samples count wall time the loop thread spends in a frame, running or not (py-spy without
`--gil`): a statement's send shows there as wall time the loop lost (on a full machine, the
backend it wakes takes the core), which its CPU alone (~12 us) would not show. Prints per
round the mix's row (as bench/load.py) and, per line, the share of the loop thread's samples
whose stack passes through that frame (a request kind's early path, a background task);
`--gil`: only samples of the thread holding the GIL (its CPU, not its waits), and each
thread's share of them (the loop against the selector's threads). `--select-unique`: every
select a new request (bench/load.py's). `--out DIR` keeps the raw samples (py-spy's `raw`
format, one stack a line)."""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from load import build_ops, measure, parse_mix, row, select_texts
from servers import create_api_key, embedded_database, toolcatalog_server

DEFAULT = "get=90,list=2,search=3,select=3,patch=2"
# (label, frame name): the first that a sample's stack passes through counts it.
PARTS = (
    ("patch: a batch's write_tools statement", "write_tools"),
    ("patch: its plan (validate, lexemes, audit)", "_plan"),
    ("patch: publishing the written tools", "CatalogState.written_many"),
    ("patch: the rest (body, caller, answer)", "serve_patch"),
    ("patch: a queued batch (follow), rest", "ToolWriteQueue._follow"),
    ("change notices (announcer)", "ChangeAnnouncer._send"),
    ("pool: reset on release", "PoolConnectionHolder.release"),
    ("get one tool", "_serve_tool"),
    ("select", "_serve_select"),
    ("list / search", "_serve_list"),
    ("selection log", "SelectionLog._run"),
    ("selector: index build (loop side)", "Selector._rebuild"),
    ("every request: middleware, access log, metrics", "RequestResponseCycle.run_asgi"),
    ("uvicorn: reading requests", "HttpToolsProtocol.data_received"),
    ("uvicorn: sending answers", "RequestResponseCycle.send"),
)


def thread_shares(raw: Path) -> collections.Counter[str]:
    """Each thread's samples, by its name (numbered pool threads counted together)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        thread = next((f for f in stack.split(";")[:2] if f.startswith("thread ")), "?")
        counts[re.sub(r"_\d+$", "", thread.rpartition(": ")[2])] += int(n)
    return counts


def shares(raw: Path) -> tuple[int, list[tuple[str, int]]]:
    """The loop thread's sample count and each part's samples."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        thread = next((i for i, f in enumerate(frames[:2]) if f.startswith("thread ")), None)
        if thread is None or "MainThread" not in frames[thread]:
            continue
        names = {re.sub(r" \(.*$", "", f) for f in frames[thread + 1 :]}
        total += int(n)
        label = next((label for label, frame in PARTS if frame in names), "the loop itself")
        counts[label] += int(n)
    order = [label for label, _ in PARTS] + ["the loop itself"]
    return total, [(label, counts[label]) for label in order if counts[label]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--src", action="append", type=Path, help="a checkout's src folder")
    parser.add_argument("--mix", default=DEFAULT)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples a second")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--out", type=Path, help="keep the raw samples here")
    parser.add_argument("--gil", action="store_true", help="sample the GIL's holder only")
    parser.add_argument("--select-unique", action="store_true", help="every select new")
    args = parser.parse_args()
    sources = args.src or [Path(__file__).resolve().parents[1] / "src"]
    drive = argparse.Namespace(client="auto", connections=64, threads=1, duration=args.duration)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loopprofile-")))
        out = args.out or work
        out.mkdir(parents=True, exist_ok=True)
        servers = []
        selects = select_texts(None, args.select_unique)
        for k, source in enumerate(sources):
            home = work / f"server{k}"
            (home / "logs").mkdir(parents=True)
            url = stack.enter_context(embedded_database(home))
            target = stack.enter_context(
                toolcatalog_server(url, home / "home", 1, home / "logs", source=source)
            )
            key = create_api_key(url, f"bench_{secrets.token_hex(3)}", source=source)
            servers.append(
                (
                    k,
                    source,
                    target,
                    build_ops(target.url, parse_mix(args.mix), "grep", key, selects=selects),
                )
            )
        for r in range(args.rounds):
            for k, source, target, ops in servers:
                raw = out / f"loop-{k}-{r}.txt"
                spy = subprocess.Popen(
                    [args.py_spy, "record", "-p", str(target.pid), "-r", str(args.rate),
                     "-d", str(round(args.duration) + 1), "-f", "raw", "-o", str(raw),
                     "--threads", "--nonblocking", *(["--gil"] if args.gil else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ,
                )  # fmt: skip
                run = measure(target, ops, drive)
                spy.wait()
                load = Path("/proc/loadavg").read_text().split()[0]
                print(row(f"{k}:{source} (load {load})", run))
                if not raw.exists():
                    print("  py-spy wrote nothing (is it allowed to read the process?)")
                    continue
                threads = thread_shares(raw)
                every = sum(threads.values()) or 1
                print("  threads: " + ", ".join(
                    f"{name} {100 * n / every:.1f} %" for name, n in threads.most_common()
                ))  # fmt: skip
                total, parts = shares(raw)
                print(f"  loop thread, {total} samples:")
                for label, n in parts:
                    print(f"    {label:<45} {100 * n / total:5.1f} %")


if __name__ == "__main__":
    main()
