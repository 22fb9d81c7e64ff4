"""The migration report: per tool what was mapped, renamed, converted, defaulted, kept and
dropped; per run what was skipped (templates) and refused; a summary by kind and topic, as JSON
or Markdown for review."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.errors import Problem
from toolcatalog.formats.opsconductor.bookkeeping import Change, Kind


@dataclass
class ConversionReport:
    """What happened to one seed tool's fields. `mapped` pairs seed paths with ours for the
    fields that landed in our model; `changes` says what happened on the way."""

    file: str
    tool_name: str | None
    changes: list[Change] = field(default_factory=list)
    mapped: list[tuple[str, str]] = field(default_factory=list)

    def paths(self, kind: Kind) -> list[str]:
        return [c.path for c in self.changes if c.kind is kind]

    @property
    def kept_in_metadata(self) -> list[str]:
        return self.paths(Kind.kept)

    @property
    def unmapped(self) -> list[str]:
        return self.paths(Kind.dropped)

    @property
    def notes(self) -> list[str]:
        """Every change but the verbatim keeps, as `seed.path: what happened`."""
        return [str(c) for c in self.changes if c.kind is not Kind.kept]


@dataclass(frozen=True, slots=True)
class SkippedFile:
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class SummaryRow:
    kind: Kind
    topic: str
    changes: int
    tools: int


@dataclass
class MigrationReport:
    tools: list[ConversionReport] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    refused: dict[str, list[Problem]] = field(default_factory=dict)

    def refuse(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.refused.setdefault(problem.file or "<input>", []).append(problem)

    def summary(self) -> list[SummaryRow]:
        """Changes counted by (kind, topic), most frequent first within a kind."""
        changes: Counter[tuple[Kind, str]] = Counter()
        tools: Counter[tuple[Kind, str]] = Counter()
        for report in self.tools:
            keys = [(c.kind, c.topic) for c in report.changes]
            changes.update(keys)
            tools.update(set(keys))
        order = list(Kind)
        rows = [
            SummaryRow(kind, topic, n, tools[(kind, topic)]) for (kind, topic), n in changes.items()
        ]
        return sorted(rows, key=lambda r: (order.index(r.kind), -r.changes, r.topic))

    def as_json(self) -> dict[str, Any]:
        return {
            "tools": len(self.tools),
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "refused": {
                file: [_problem(p) for p in problems] for file, problems in self.refused.items()
            },
            "summary": [
                {"kind": r.kind.value, "topic": r.topic, "changes": r.changes, "tools": r.tools}
                for r in self.summary()
            ],
            "per_tool": [
                {
                    "file": t.file,
                    "tool": t.tool_name,
                    "mapped": [{"seed": seed, "ours": ours} for seed, ours in t.mapped],
                    "changes": [
                        {"kind": c.kind.value, "topic": c.topic, "path": c.path, "detail": c.detail}
                        for c in t.changes
                    ],
                }
                for t in self.tools
            ],
        }

    def as_markdown(self) -> str:
        lines = [
            "# OpsConductor migration report",
            "",
            f"{len(self.tools)} tool(s) converted, {len(self.skipped)} file(s) skipped, "
            f"{len(self.refused)} file(s) refused.",
            "",
            "## Summary",
            "",
            "| kind | what | changes | tools |",
            "| --- | --- | ---: | ---: |",
            *(
                f"| {r.kind.value} | {_cell(r.topic)} | {r.changes} | {r.tools} |"
                for r in self.summary()
            ),
        ]
        if self.skipped:
            lines += ["", "## Skipped", ""]
            lines += [f"- `{s.file}`: {_cell(s.reason)}" for s in self.skipped]
        if self.refused:
            lines += ["", "## Refused", ""]
            for file, problems in self.refused.items():
                lines.append(f"- `{file}`")
                lines += [f"  - {_cell(_where(p))}: {_cell(p.message)}" for p in problems]
        lines += ["", "## Per tool"]
        for t in self.tools:
            lines += [
                "",
                f"### {t.tool_name} (`{t.file}`)",
                "",
                f"{len(t.mapped)} field(s) mapped.",
            ]
            for kind in Kind:
                found = [c for c in t.changes if c.kind is kind]
                if found:
                    lines += ["", f"{kind.value}:", ""]
                    lines += [f"- `{c.path}`: {_cell(c.detail)}" for c in found]
        return "\n".join(lines) + "\n"


def _problem(p: Problem) -> dict[str, Any]:
    return {"path": p.path, "line": p.line, "message": p.message}


def _where(p: Problem) -> str:
    line = f" (line {p.line})" if p.line else ""
    return f"{p.path or '(file)'}{line}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
