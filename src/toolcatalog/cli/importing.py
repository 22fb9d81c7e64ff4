"""`toolcatalog import`: native definitions, or a migration from the seed system (its files or
its running database), all or nothing unless --skip-invalid."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from toolcatalog.catalog.checks import tool_warnings, vocabulary_warnings
from toolcatalog.catalog.imports import ImportReport
from toolcatalog.catalog.migration import (
    DatabaseMigration,
    ImportedHistory,
    read_opsconductor_database,
)
from toolcatalog.catalog.writes import Actor
from toolcatalog.cli import findings, output
from toolcatalog.cli import migration as migration_output
from toolcatalog.cli.output import JsonFlag
from toolcatalog.cli.running import EXIT_INVALID, cli_settings, command_runtime
from toolcatalog.cli.upstream_import import run_upstream_import
from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.catalog_folder import folder_environments, load_vocabulary
from toolcatalog.formats.definitions import LoadResult, load_paths
from toolcatalog.formats.opsconductor import (
    MigrationReport,
    Naming,
    load_mapping,
    load_opsconductor_paths,
)
from toolcatalog.model.vocabulary import Vocabulary


class SourceFormat(StrEnum):
    native = "native"
    opsconductor = "opsconductor"
    opsconductor_db = "opsconductor-db"
    mcp = "mcp"
    openapi = "openapi"


Sources = Annotated[
    list[str],
    typer.Argument(
        help="YAML/JSON files or folders; for opsconductor-db the seed database's URL "
        "(postgresql://...); for mcp stdio:<command line> or a Streamable HTTP URL; for "
        "openapi a spec's file or URL.",
        show_default=False,
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="opsconductor: YAML of tool -> {capability, pattern, platform, category} overriding "
        "the names given to generic seed names.",
    ),
]


def load_sources(
    paths: list[Path], fmt: SourceFormat, naming: Naming | None = None
) -> tuple[LoadResult, Vocabulary | None, MigrationReport | None]:
    if fmt is SourceFormat.opsconductor:
        result, report = load_opsconductor_paths(paths, naming=naming)
        return result, None, report
    result = load_paths(paths)
    vocabulary = None
    for vocab_file in result.vocabulary_files:
        vocabulary = load_vocabulary(vocab_file)
    return result, vocabulary, None


StrictFlag = Annotated[
    bool,
    typer.Option(
        "--strict", help="Treat warnings (the same as POST /tools/validate gives) as errors."
    ),
]


def definition_warnings(
    result: LoadResult, vocabulary: Vocabulary | None, *, verbose: bool = False
) -> list[str]:
    """The notes of loading (a pattern's effect inferred) and the warnings the API's validate
    gives for each loaded tool (the definition alone, and its capability names against
    `vocabulary`), on stderr (summarised per kind unless `verbose`); returns the warnings as
    `file: tool: warning` lines."""
    notes = [findings.from_problem(p) for p in result.notes]
    warnings = []
    for loaded in result.tools:
        where = f"{loaded.file}: {loaded.tool.name}" if loaded.file else loaded.tool.name
        for warning in tool_warnings(loaded.tool) + vocabulary_warnings(loaded.tool, vocabulary):
            warnings.append(findings.Finding(where, warning))
    findings.print_findings("note", notes, verbose=verbose)
    findings.print_findings("warning", warnings, verbose=verbose)
    return [str(w) for w in warnings]


def naming_for(vocabulary: Vocabulary | None, mapping: Path | None) -> Naming:
    return Naming(vocabulary, load_mapping(mapping) if mapping is not None else None)


def _print_report(
    report: ImportReport,
    invalid: int,
    as_json: bool,
    migration: MigrationReport | None,
    result: LoadResult,
    warnings: list[str],
) -> None:
    if as_json:
        output.print_json(
            {
                "notes": [str(findings.from_problem(p)) for p in result.notes],
                "warnings": warnings,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
                "invalid": invalid,
                "dry_run": report.dry_run,
                **migration_output.as_json(migration),
                **({"history": {"audit": report.history[0], "telemetry": report.history[1]}}
                   if report.history != (0, 0) else {}),
            }
        )  # fmt: skip
        return
    prefix = "dry run: would have " if report.dry_run else ""
    output.out.print(
        f"{prefix}created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, skipped {len(report.skipped)}, invalid {invalid}",
        highlight=False,
    )


def import_command(
    sources: Sources,
    dry_run: Annotated[bool, typer.Option(help="Validate and report; write nothing.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Update tools that already exist.")] = True,
    fmt: Annotated[
        SourceFormat,
        typer.Option(
            "--format",
            help="native; the seed system's files (opsconductor) or running database "
            "(opsconductor-db); a live MCP server's tools (mcp); an OpenAPI 3 spec (openapi).",
        ),
    ] = SourceFormat.native,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid files, list every refused one; exit 1 if any was refused.",
        ),
    ] = False,
    mapping: MappingOption = None,
    strict: StrictFlag = False,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="opsconductor: write the migration report as Markdown."),
    ] = None,
    accept_drift: Annotated[
        bool,
        typer.Option(
            "--accept-drift",
            help="mcp, openapi: update tools whose upstream changed since they were imported "
            "(else they are reported as drifted, left as they are, and the exit code is 1).",
        ),
    ] = False,
    per_tag: Annotated[
        bool, typer.Option("--per-tag", help="openapi: one tool per tag, not one for the spec.")
    ] = False,
    verbose: findings.VerboseFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import tool definitions in one transaction: all or nothing (unless --skip-invalid),
    idempotent."""
    if fmt in (SourceFormat.mcp, SourceFormat.openapi):
        run_upstream_import(
            "mcp" if fmt is SourceFormat.mcp else "openapi",
            sources,
            dry_run=dry_run,
            overwrite=overwrite,
            skip_invalid=skip_invalid,
            accept_drift=accept_drift,
            group="tag" if per_tag else "spec",
            as_json=as_json,
        )
        return

    from_db: list[DatabaseMigration] = []
    warned: list[str] = []

    async def go() -> tuple[ImportReport | None, LoadResult, MigrationReport | None]:
        async with command_runtime(cli_settings()) as runtime:
            naming: Naming | None = None
            history: ImportedHistory | None = None
            migration: MigrationReport | None
            if fmt is not SourceFormat.native:  # generic seed names map onto our vocabulary
                snapshot = await runtime.catalog.get_all_tools_with_structure()
                naming = naming_for(snapshot.vocabulary, mapping)
            if fmt is SourceFormat.opsconductor_db:
                if len(sources) != 1 or not sources[0].startswith(("postgres://", "postgresql://")):
                    raise InvalidDefinition(
                        "--format opsconductor-db takes one PostgreSQL URL (postgresql://...)"
                    )
                from_db.append(await read_opsconductor_database(sources[0], naming))
                result, vocabulary, migration = from_db[0].result, None, from_db[0].report
                history = from_db[0].history
            else:
                result, vocabulary, migration = load_sources(
                    [Path(s) for s in sources], fmt, naming
                )
            if migration is not None and not as_json:
                migration_output.print_skipped(migration)
            if result.problems and not skip_invalid:
                return None, result, migration
            if not result.tools and vocabulary is None and not result.environment_files:
                return None, result, migration
            checked = vocabulary
            if checked is None:
                checked = (await runtime.catalog.get_all_tools_with_structure()).vocabulary
            warned.extend(definition_warnings(result, checked, verbose=verbose))
            if strict and warned:
                output.err.print(
                    f"error: {len(warned)} warning(s) and --strict; nothing was imported",
                    highlight=False,
                )
                raise typer.Exit(EXIT_INVALID)
            report = await runtime.catalog.import_definitions(
                [lt.tool for lt in result.tools],
                actor=Actor("cli"),
                overwrite=overwrite,
                dry_run=dry_run,
                vocabulary=vocabulary,
                history=history,
                environments=folder_environments(result),
            )
            return report, result, migration

    report, result, migration = asyncio.run(go())
    refused = {p.file for p in result.problems}
    if result.problems:
        migration_output.print_refused(result.problems, imported=report is not None)
    report_failed = False
    if migration is not None and report_file is not None:
        report_failed = not migration_output.write_report(migration, report_file)
    if report is None:
        if as_json:
            output.print_json(
                {
                    "invalid": len(refused),
                    "problems": [str(p) for p in result.problems],
                    **migration_output.as_json(migration),
                }
            )
        if not result.problems:
            output.err.print("error: no tool definitions found in the given paths", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    if migration is not None and not as_json:
        migration_output.print_summary(migration, report_file)
        if from_db:
            migration_output.print_database_extras(from_db[0], report)
    _print_report(report, len(refused), as_json, migration, result, warned)
    if refused or report_failed:
        raise typer.Exit(EXIT_INVALID)
