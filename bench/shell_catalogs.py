"""Two public shell catalogs, tldr pages and NL2Bash, turned into the files
bench/public_quality.py reads (`--tools` {"name", "description"}, `--queries` {"query", "tools"}),
from checkouts whose paths the user gives; nothing of either data set is in this repository.

    python bench/shell_catalogs.py tldr --pages TLDR/pages --out /tmp/tldr [--half even]
    python bench/shell_catalogs.py nl2bash --data NL2BASH/data/bash --pages TLDR/pages \
        --out /tmp/nl2bash [--half even]
    python bench/public_quality.py --tools /tmp/tldr/tools.jsonl \
        --queries /tmp/tldr/queries.jsonl --limit 2000 --out-of-scope bench/data/out-of-scope.jsonl

tldr: each page of `pages/common` and `pages/linux` is a tool (a name in both: the linux page,
as tldr's client on Linux reads it), described by its `>` summary lines only (the "More
information" line dropped; never the examples). Each example description (`- ...:`) is a
request whose right tool is its page, with tldr's mnemonic bracket marks removed ("[c]reate" ->
"create"). A request text found on several pages ("Display help", "View documentation for the
original command") names no tool and is dropped: no selector can answer it.

NL2Bash: `all.nl` line i is a request, `all.cm` line i its command; the right tool is the
command's first utility: leading `NAME=value` assignments skipped, then the wrappers `sudo`
(with its options and `-u USER`), `env`, `time`, `nohup`, `nice`, `xargs`, `command`,
`builtin`, `exec` with their options; the word's base name (`/usr/bin/find` -> `find`). A
command that is only an assignment takes the first utility of its `$(...)`. Each utility is
described by its tldr summary (as above); utilities tldr has no page for are dropped with
their requests.

Requests keep their source order (tldr: pages by name, examples in page order); `--half even`
keeps requests 0, 2, 4, ... of that list, `odd` 1, 3, 5, ... (choose on one, report the
other). public_quality's `--limit` then spreads its sample evenly over the file.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections import defaultdict
from pathlib import Path

PLATFORMS = ("common", "linux")  # later platforms override earlier ones
_MARK = re.compile(r"\[([^\[\]]*)\]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SUBSTITUTION = re.compile(r"\$\(|`")
WRAPPERS = {"sudo", "env", "time", "nohup", "nice", "xargs", "command", "builtin", "exec"}
_WITH_VALUE = {"-u", "-g", "-n", "-I", "-P", "-L", "-d", "-s", "-C", "-E", "-f", "-o"}
_END = re.compile(r"[|;&`)<>]")


def read_page(text: str) -> tuple[str, list[str]]:
    """A tldr page's summary (its `>` lines, no "More information") and example descriptions."""
    summary: list[str] = []
    examples: list[str] = []
    for line in text.splitlines():
        if line.startswith(">"):
            part = line[1:].strip()
            if part and not part.startswith("More information"):
                summary.append(part)
        elif line.startswith("- "):
            examples.append(line[2:].strip().rstrip(":").strip())
    return " ".join(summary), examples


def tldr_pages(pages: Path) -> dict[str, tuple[str, list[str]]]:
    """Page name -> (summary, examples), linux pages over common ones."""
    found: dict[str, tuple[str, list[str]]] = {}
    for platform in PLATFORMS:
        folder = pages / platform
        if not folder.is_dir():
            raise SystemExit(f"{folder} is not a folder: --pages is tldr's pages/ folder")
        for path in sorted(folder.glob("*.md")):
            found[path.stem] = read_page(path.read_text(encoding="utf-8"))
    return dict(sorted(found.items()))


def unmarked(text: str) -> str:
    return " ".join(_MARK.sub(r"\1", text).split())


def tldr_requests(pages: dict[str, tuple[str, list[str]]]) -> list[dict[str, object]]:
    """Every example description as a request for its page; texts on several pages dropped."""
    seen: dict[str, set[str]] = defaultdict(set)
    listed: list[tuple[str, str]] = []
    for name, (_, examples) in pages.items():
        for example in examples:
            query = unmarked(example)
            if query:
                seen[query.lower()].add(name)
                listed.append((query, name))
    return [{"query": q, "tools": [n]} for q, n in listed if len(seen[q.lower()]) == 1]


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=False, posix=True)
    except ValueError:
        return command.split()


def first_utility(command: str) -> str | None:
    """The command's first utility past assignments and wrappers (see the module's rule)."""
    words = _words(command.strip())
    i = 0
    while i < len(words):
        word = words[i].lstrip("({!").strip()
        if _ASSIGNMENT.match(word):
            word = word.split("=", 1)[1]
            if not word.startswith(("$(", "`")):
                i += 1
                continue
        if word.startswith(("$(", "`")):
            inner = _SUBSTITUTION.search(command)
            return first_utility(command[inner.end() :]) if inner else None
        if not word or word == "$":
            i += 1
        elif word in WRAPPERS:
            i += 1
            while i < len(words) and (
                words[i].startswith("-") or _ASSIGNMENT.match(words[i]) is not None
            ):
                i += 2 if words[i] in _WITH_VALUE else 1
        else:
            return _END.split(word)[0].rsplit("/", 1)[-1] or None
    return None


def nl2bash(data: Path, pages: dict[str, tuple[str, list[str]]]) -> tuple[list, list]:
    """(tools, requests): utilities with a tldr summary, requests whose utility is one."""
    requests = (data / "all.nl").read_text(encoding="utf-8").splitlines()
    commands = (data / "all.cm").read_text(encoding="utf-8").splitlines()
    if len(requests) != len(commands):
        raise SystemExit(f"{data}: all.nl has {len(requests)} lines, all.cm {len(commands)}")
    labelled: list[dict[str, object]] = []
    used: set[str] = set()
    for query, command in zip(requests, commands, strict=True):
        utility = first_utility(command)
        if query.strip() and utility in pages and pages[utility][0]:
            labelled.append({"query": query.strip(), "tools": [utility]})
            used.add(utility)
    tools = [{"name": n, "description": pages[n][0]} for n in sorted(used)]
    return tools, labelled


def half(lines: list[dict[str, object]], which: str) -> list[dict[str, object]]:
    return lines if which == "all" else lines[0 if which == "even" else 1 :: 2]


def _write(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=["tldr", "nl2bash"])
    parser.add_argument("--pages", required=True, type=Path, help="tldr's pages/ folder")
    parser.add_argument("--data", type=Path, help="NL2Bash's data/bash folder (nl2bash)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the two files")
    parser.add_argument("--half", choices=["all", "even", "odd"], default="all")
    args = parser.parse_args(argv)
    pages = tldr_pages(args.pages)
    if args.source == "tldr":
        tools = [{"name": n, "description": s or n} for n, (s, _) in pages.items()]
        requests = tldr_requests(pages)
    else:
        if args.data is None:
            parser.error("nl2bash needs --data NL2BASH/data/bash")
        tools, requests = nl2bash(args.data, pages)
    chosen = half(requests, args.half)
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "tools.jsonl", tools)
    _write(args.out / "queries.jsonl", chosen)
    print(f"{len(tools)} tools, {len(chosen)} of {len(requests)} requests written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
