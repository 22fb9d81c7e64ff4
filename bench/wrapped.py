"""Running another quality bench inside a bench that patches the selector first
(miss_causes.py, multi_vector.py, frequent_pieces.py, selector_variants.py, gate_leads.py)."""

from __future__ import annotations

import argparse
import atexit
import runpy
import sys
from collections.abc import Callable
from pathlib import Path


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The wrapped bench and its own arguments, last on the command line."""
    parser.add_argument("bench", help="the bench script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")


def run_bench(bench: str, args: list[str]) -> None:
    """Runs the script `bench` as its own command line would (`args` its arguments), with its
    folder first on the import path, in this process: whatever was patched stays patched."""
    sys.path.insert(0, str(Path(bench).resolve().parent))
    sys.argv = [bench, *args]
    runpy.run_path(bench, run_name="__main__")


def run_bench_then(report: Callable[[], None], bench: str, args: list[str]) -> None:
    """run_bench, then `report` (also when the bench exits through sys.exit)."""
    atexit.register(report)
    run_bench(bench, args)
