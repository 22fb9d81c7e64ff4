"""Notes and warnings about loaded definitions, on stderr: one line each while they are few,
summarised per kind when a catalog repeats one. A description-only catalog of 199 tools gave
two lines per tool (no examples, effect not declared): 400 lines that hid everything else.
A kind is the message with its quoted values and list indices left out; its summary says
how often it occurs, shows the first few, and how to see all (`--verbose`, or `--json`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import typer

from toolcatalog.cli import output
from toolcatalog.errors import Problem

EXAMPLES = 3
_QUOTED = re.compile(r"'[^']*'")
_INDEX = re.compile(r"\[\d+\]")

VerboseFlag = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="List every note and warning, not a summary per kind."),
]


@dataclass(frozen=True, slots=True)
class Finding:
    where: str  # file and tool or JSON path
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def from_problem(problem: Problem) -> Finding:
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    return Finding(problem.file or "", message)


def print_findings(label: str, findings: list[Finding], *, verbose: bool = False) -> None:
    """`label: where: message` per finding, or per kind: the count, EXAMPLES of them, and
    how to see the rest."""
    kinds: dict[str, list[Finding]] = {}
    for finding in findings:
        kind = _INDEX.sub("[]", _QUOTED.sub("'...'", finding.message))
        kinds.setdefault(kind, []).append(finding)
    for kind, items in kinds.items():
        if verbose or len(items) <= EXAMPLES + 1:
            for finding in items:
                output.err.print(f"{label}: {finding}", highlight=False, markup=False)
            continue
        output.err.print(f"{label}: {len(items)} times: {kind}", highlight=False, markup=False)
        for finding in items[:EXAMPLES]:
            output.err.print(f"  e.g. {finding}", highlight=False, markup=False)
        output.err.print(
            f"  and {len(items) - EXAMPLES} more (--verbose lists every one, --json has them all)",
            highlight=False,
            markup=False,
        )
