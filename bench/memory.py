"""What one catalog version holds per tool, by component (issue #14: resident memory per
worker <= 2 GB at 100,000 tools), measured with tracemalloc in one process, no database:

    python bench/memory.py --tools 10000 [--selector] [--baseline-src DIR]
    python bench/memory.py --folder catalog      # the starter catalog's tools instead

N generated tools (bench/import_bench.py's generator) go the way a whole read takes them: a
stored row's JSON decoded, validated, encoded (`catalog.entries.entry_of`), the version built
(`CatalogVersion.build`), then, with --selector, the selector's index (`CatalogIndex`); and
the entries and the selector's index (with its enumerator's flags) as a restart loads them
from the saved version instead. Each
step prints the bytes it left allocated per tool; the total is projected to 100,000 tools.
`--rss` measures each step's growth of the process's RSS instead (the allocator's slack
included, tracemalloc's own tables not).
`--baseline-src DIR` runs the same in a fresh process with the `toolcatalog` package of DIR
first, so both are measured in one run.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil

BENCH = Path(__file__).resolve().parent


def held_bytes() -> int:
    """What is allocated now: tracemalloc's count when tracing, else the RSS."""
    if tracemalloc.is_tracing():
        return tracemalloc.get_traced_memory()[0]
    return int(psutil.Process().memory_info().rss)


def traced(label: str, per: int, step: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    before = held_bytes()
    result = step()
    gc.collect()
    grown = held_bytes() - before
    print(f"  {label:<44} {grown / per / 1024:8.2f} KiB/tool", flush=True)
    return result, grown


def measure(n: int, selector: bool, rss: bool, folder: str | None) -> None:
    # Imported here so that --baseline-src measures the other checkout's package.
    from import_bench import generate

    from toolcatalog.catalog.entries import entry_of
    from toolcatalog.catalog.stored import InvalidStoredTools
    from toolcatalog.catalog.version import CatalogVersion
    from toolcatalog.catalog.views import CachedTool
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.store.tools import ToolRecord

    source = Path(sys.modules["toolcatalog"].__file__ or "").parent
    tools = load_folder_snapshot(Path(folder)).tools if folder else tuple(generate(n))
    n = len(tools)
    print(f"{n} tools, {'RSS' if rss else 'tracemalloc'}, toolcatalog from {source}")
    now = datetime.now(UTC)
    # Each row's definition as stream_tools_json hands it.
    rows = [orjson.dumps(t.document()) for t in tools]
    del tools
    if not rss:
        tracemalloc.start()
    invalid = InvalidStoredTools()

    def whole_read() -> dict[str, CachedTool]:
        # The rows decoded, validated and encoded; the decoded rows freed at the end.
        records = (
            ToolRecord(i + 1, d["name"], 1, f'"1-{i:016x}"', d, now, now)
            for i, d in enumerate(map(orjson.loads, rows))
        )
        return {r.name: entry_of(r, t) for r, t in invalid.valid(records, whole=True)}

    entries, held = traced("entries (validated, encoded, search terms)", n, whole_read)
    version, built = traced(
        "version (names, snapshot, postings, filters)",
        n,
        lambda: CatalogVersion.build(entries, 1, None, None, 0.0),
    )
    total = held + built
    # A restart reads the entries from the saved version (catalog/saved.py), pickled 16
    # tools a call: only what one call pickled shares its objects once loaded.
    items = [(name, "stamp", entries[name]) for name in version.names]
    saved = [pickle.dumps(items[i : i + 16], protocol=5) for i in range(0, len(items), 16)]
    del items
    traced(
        "entries as a restart loads them (not in total)",
        n,
        lambda: [entry for data in saved for _, _, entry in pickle.loads(data)],
    )
    if selector:
        from toolcatalog.selection.retrieval import CatalogIndex

        built, index = traced("selector's CatalogIndex", n, lambda: CatalogIndex(version.snapshot))
        total += index
        # A restart loads the index saved beside the version (selection/saved_index.py) over
        # the loaded version's tools, with the candidate enumerator's per-pattern flags.
        import threading

        from toolcatalog.selection.candidates import CandidateEnumerator
        from toolcatalog.selection.saved_index import SavedIndex

        saver = SavedIndex(lambda: CandidateEnumerator(built))
        data = saver.dump(version.snapshot.tools, threading.Event())
        assert data is not None
        by_name = {t.name: t for t in version.snapshot.tools}
        traced(
            "selector's index as a restart loads it (not in total)",
            n,
            lambda: saver.load(data, by_name),
        )
    print(
        f"  {'total':<44} {total / n / 1024:8.2f} KiB/tool"
        f"  -> {total / n * 100_000 / 2**30:.2f} GiB at 100,000 tools"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=10_000)
    parser.add_argument("--selector", action="store_true", help="the selector's index too")
    parser.add_argument(
        "--rss", action="store_true", help="each step's growth of the RSS, not tracemalloc's"
    )
    parser.add_argument("--folder", help="a catalog folder's tools instead of generated ones")
    parser.add_argument("--baseline-src", help="a checkout's src/ measured first")
    args = parser.parse_args()
    if args.baseline_src:
        env = {**os.environ, "PYTHONPATH": f"{args.baseline_src}{os.pathsep}{BENCH}"}
        command = [sys.executable, __file__, "--tools", str(args.tools)]
        command += ["--selector"] * args.selector + ["--rss"] * args.rss
        command += ["--folder", args.folder] if args.folder else []
        print("baseline:", flush=True)
        subprocess.run(command, env=env, check=True)
        print("this tree:", flush=True)
    measure(args.tools, args.selector, args.rss, args.folder)


if __name__ == "__main__":
    main()
