"""Running another quality bench inside a bench that patches the selector first
(miss_causes.py, multi_vector.py, frequent_pieces.py, selector_variants.py, gate_leads.py)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def run_bench(bench: str, args: list[str]) -> None:
    """Runs the script `bench` as its own command line would (`args` its arguments), with its
    folder first on the import path, in this process: whatever was patched stays patched."""
    sys.path.insert(0, str(Path(bench).resolve().parent))
    sys.argv = [bench, *args]
    runpy.run_path(bench, run_name="__main__")
