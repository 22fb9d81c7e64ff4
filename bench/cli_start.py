"""Wall time of CLI commands as a user runs them, each a fresh process: `--version`,
`select --catalog DIR` (no database) and the Python import of the CLI, median and min of N
runs, after one warm-up run (so the second-run caches, such as the parsed catalog and the
ONNX model, exist as they do for a user's second call).

    python bench/cli_start.py [--catalog catalog] [--runs 5] [--before SRC_DIR] [--semantic]

`--before` names the `src` folder of an older checkout (`git worktree add /tmp/before
<commit>`, then `--before /tmp/before/src`): each case then runs with that code first
(PYTHONPATH) and with this install's right after, so both see the same machine load.
Selection is lexical unless --semantic (the default of a real install loads the embedding
model too). Each command runs in a temporary TOOLCATALOG_HOME shared by its runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "why is / full on db2"


def _time(cmd: list[str], envs: list[dict[str, str]], runs: int) -> list[list[float]]:
    """Walls per environment, the environments interleaved run by run."""
    for env in envs:
        subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm-up
    walls: list[list[float]] = [[] for _ in envs]
    for _ in range(runs):
        for i, env in enumerate(envs):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            walls[i].append(time.perf_counter() - start)
    return walls


def _line(label: str, walls: list[float]) -> str:
    return (
        f"  {label:40s} median {statistics.median(walls):6.2f} s"
        f"  min {min(walls):6.2f} s  max {max(walls):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument("--before", type=Path, help="src folder of an older checkout")
    args = parser.parse_args()
    script = str(Path(sys.executable).with_name("toolcatalog"))
    python = sys.executable
    with (
        tempfile.TemporaryDirectory(prefix="cli-start-") as home,
        tempfile.TemporaryDirectory(prefix="cli-start-before-") as before_home,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLCATALOG_")}
        env |= {"TOOLCATALOG_HOME": home, "TOOLCATALOG_SEMANTIC": str(args.semantic).lower()}
        envs, names = [env], ["now"]
        if args.before:
            old = env | {"TOOLCATALOG_HOME": before_home, "PYTHONPATH": str(args.before)}
            envs, names = [old, env], ["before", "now"]
        cases = {
            "import toolcatalog.cli.main": [python, "-c", "import toolcatalog.cli.main"],
            "toolcatalog --version": [script, "--version"],
            "toolcatalog select --catalog": [
                script, "select", REQUEST, "--catalog", str(args.catalog)
            ],
            "toolcatalog validate": [script, "validate", str(args.catalog)],
        }  # fmt: skip
        print(f"{script} ({args.runs} runs after a warm-up, semantic={args.semantic})")
        for label, cmd in cases.items():
            for name, walls in zip(names, _time(cmd, envs, args.runs), strict=True):
                print(_line(f"{label} ({name})", walls))


if __name__ == "__main__":
    main()
