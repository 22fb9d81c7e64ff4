"""A catalog of Python's standard-library modules, from the first paragraph of each module's
docstring, in the form bench/public_quality.py reads (a generality check that needs no outside
data: terse, uneven descriptions of a programming domain, names unlike an ops catalog's).

    python bench/stdlib_catalog.py --out /tmp/stdlib-tools.jsonl
    python bench/public_quality.py --tools /tmp/stdlib-tools.jsonl \
        --queries bench/data/stdlib-requests.jsonl --limit 0 \
        --out-of-scope bench/data/chit-chat.jsonl

Each public module of `sys.stdlib_module_names` (no leading underscore) whose docstring's first
paragraph has at least 15 characters becomes a line {"name", "description"} (at most 300
characters). Modules written in Python are read without being imported (`ast`), so none runs;
compiled ones are imported for their docstring. bench/data/stdlib-requests.jsonl holds 20
programming requests, each labelled with the module that answers it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import sys
import warnings
from pathlib import Path

MIN_LENGTH = 15
MAX_LENGTH = 300


def docstring(name: str) -> str | None:
    """The module's docstring, read from its source when it has one, else imported."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    origin = spec.origin or ""
    if origin.endswith(".py"):
        source = Path(origin).read_text(encoding="utf-8", errors="replace")
        try:
            return ast.get_docstring(ast.parse(source))
        except SyntaxError:
            return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name).__doc__
    except Exception:
        return None


def modules() -> dict[str, str]:
    """Name -> description of each public standard-library module."""
    found: dict[str, str] = {}
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_"):
            continue
        text = (docstring(name) or "").strip().split("\n\n")[0]
        description = " ".join(text.split())
        if len(description) >= MIN_LENGTH:
            found[name] = description[:MAX_LENGTH]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    found = modules()
    lines = [json.dumps({"name": n, "description": d}) for n, d in found.items()]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} modules written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
