"""A catalog of this machine's commands, from its manual pages' one-line descriptions, in the
form bench/public_quality.py reads (a generality check that needs no outside data: a dense
catalog of terse CLI tools, as NL2Bash's or tldr's are).

    python bench/man_catalog.py --out /tmp/man-tools.jsonl
    python bench/public_quality.py --tools /tmp/man-tools.jsonl \
        --queries bench/data/shell-requests.jsonl --limit 0 \
        --out-of-scope bench/data/out-of-scope.jsonl

Each command of sections 1 and 8 (`man -k -l .`) whose description has at least three words
becomes a line {"name", "description"}; the first of several pages of one name is kept.
bench/data/shell-requests.jsonl holds 43 shell requests, each labelled with the commands that
answer it; a request whose commands this machine has no page for counts as a miss (measured
with man-db, coreutils, procps, iproute2, openssh-client, git and systemd pages installed).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

_LINE = re.compile(r"^(\S+) \((1|8)\)\s+- (.+)$")


def commands(listing: str) -> dict[str, str]:
    """Name -> description of each section 1 or 8 entry of `man -k -l .` output."""
    found: dict[str, str] = {}
    for line in listing.splitlines():
        match = _LINE.match(line.strip())
        if match and len(match.group(3).split()) >= 3:
            found.setdefault(match.group(1), match.group(3).strip())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        listing = subprocess.run(
            ["man", "-k", "-l", "."], capture_output=True, text=True, check=False, timeout=120
        ).stdout
    except FileNotFoundError:
        print("man is not installed (apt-get install man-db)", file=sys.stderr)
        return 1
    found = commands(listing)
    if not found:
        print("man -k listed no commands: is the manual database built (mandb)?", file=sys.stderr)
        return 1
    lines = [json.dumps({"name": n, "description": d}) for n, d in sorted(found.items())]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} commands written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
