"""Rendering a migration from the seed system (OpsConductor): skipped templates, refused files,
and the report summarised by kind on the terminal, in full with --json, as Markdown to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolcatalog.catalog.imports import ImportReport
from toolcatalog.catalog.migration import DatabaseMigration
from toolcatalog.cli import output
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.opsconductor import Kind, MigrationReport


def print_skipped(report: MigrationReport) -> None:
    for skipped in report.skipped:
        output.err.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False, markup=False)


def print_refused(problems: list[Problem], *, imported: bool) -> None:
    """Every refused file with its problems; says whether the rest goes ahead."""
    files = {p.file for p in problems}
    rest = "importing the rest" if imported else "nothing was imported"
    output.report_error(
        InvalidDefinition(f"{len(problems)} problem(s) in {len(files)} file(s); {rest}", problems)
    )


def print_summary(report: MigrationReport, report_file: Path | None) -> None:
    summary = report.summary()
    rows = [[r.kind.value, r.topic, r.changes, r.tools] for r in summary if r.kind is not Kind.kept]
    kept = [r for r in summary if r.kind is Kind.kept]
    if kept:  # one row: which fields, and how often, is in the report
        fields = f"seed fields of {len(kept)} kinds under metadata.opsconductor"
        tools = max(r.tools for r in kept)
        rows.append([Kind.kept.value, fields, sum(r.changes for r in kept), tools])
    output.table(
        f"converted {len(report.tools)} tool(s) from OpsConductor",
        ["kind", "what", "changes", "tools"],
        rows,
    )
    if report_file is None:
        output.out.print(
            "per-tool detail: --report FILE (Markdown) or --json", highlight=False, markup=False
        )


def print_database_extras(migration: DatabaseMigration, report: ImportReport) -> None:
    """What came with the tools from the seed's database, and what had no home here."""
    audit, telemetry = report.history
    verb = "would import" if report.dry_run else "imported"
    output.out.print(
        f"history {verb} with the new tools: {audit} audit entries, {telemetry} telemetry rows",
        highlight=False,
    )
    for table, count in migration.counted.items():
        output.out.print(f"not imported: {count} {table} row(s) (no home here)", highlight=False)
    if migration.absent:
        output.out.print(f"absent in the seed database: {', '.join(migration.absent)}")


def write_report(report: MigrationReport, path: Path) -> bool:
    """Write the Markdown report; False (and one line on stderr) when the file cannot be."""
    try:
        path.write_text(report.as_markdown(), encoding="utf-8")
    except OSError as exc:
        output.err.print(f"error: cannot write the report to {path}: {exc.strerror}", markup=False)
        return False
    output.out.print(f"migration report written to {path}", highlight=False, markup=False)
    return True


def as_json(report: MigrationReport | None) -> dict[str, Any]:
    return {"migration": report.as_json()} if report is not None else {}
