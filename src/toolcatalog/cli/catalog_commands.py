"""Catalog commands: export, validate, list, show, reload (import: `importing.py`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from toolcatalog.catalog.writes import Actor
from toolcatalog.cli import findings, output
from toolcatalog.cli import migration as migration_output
from toolcatalog.cli.importing import (
    MappingOption,
    SourceFormat,
    StrictFlag,
    definition_warnings,
    load_sources,
    naming_for,
)
from toolcatalog.cli.output import JsonFlag
from toolcatalog.cli.running import (
    EXIT_INVALID,
    EXIT_USAGE,
    cli_settings,
    command_runtime,
)
from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.catalog_folder import load_vocabulary
from toolcatalog.formats.dump import dump_tool, dump_yaml
from toolcatalog.model.listing import ToolFilter
from toolcatalog.model.tool import Platform, Status

Paths = Annotated[
    list[Path], typer.Argument(help="YAML/JSON files or folders.", show_default=False)
]


def export_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (created if missing).")],
    names: Annotated[
        list[str] | None, typer.Argument(help="Tools to export (default: all).")
    ] = None,
) -> None:
    """Write one YAML file per tool (out/<category>/<name>.yaml) that imports back unchanged."""

    async def go() -> int:
        async with command_runtime(cli_settings()) as runtime:
            snapshot = await runtime.catalog.get_all_tools_with_structure()
        wanted = set(names or [])
        missing = sorted(wanted - set(snapshot.by_name))
        if missing:
            raise InvalidDefinition(f"no such tool(s): {', '.join(missing)}")
        count = 0
        for tool in snapshot.tools:
            if wanted and tool.name not in wanted:
                continue
            target = out / tool.category / f"{tool.name}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dump_tool(tool), encoding="utf-8")
            count += 1
        if snapshot.vocabulary is not None and not wanted:
            vocab = snapshot.vocabulary.model_dump(mode="json")
            (out / "capabilities.yaml").write_text(dump_yaml(vocab), encoding="utf-8")
        return count

    count = asyncio.run(go())
    output.out.print(f"exported {count} tool(s) to {out}", highlight=False)


def validate_command(
    paths: Paths,
    fmt: Annotated[SourceFormat, typer.Option("--format")] = SourceFormat.native,
    mapping: MappingOption = None,
    strict: StrictFlag = False,
    verbose: findings.VerboseFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Check definitions without a database; exit 1 if any is invalid (or, with --strict, if
    any has a warning). Warnings are those of POST /tools/validate; capability names are
    checked against the vocabulary among the paths, else the catalog folder's
    (TOOLCATALOG_CATALOG_DIR). opsconductor: generic names map onto that vocabulary."""
    if fmt is SourceFormat.opsconductor_db:
        output.err.print(
            "error: validate reads files; check a seed database with "
            "`toolcatalog import --format opsconductor-db URL --dry-run`",
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE)
    folder = cli_settings().resolved_catalog_dir()
    vocab_file = folder / "capabilities.yaml" if folder is not None else None
    folder_vocabulary = load_vocabulary(vocab_file) if vocab_file and vocab_file.is_file() else None
    naming = None
    if fmt is SourceFormat.opsconductor:
        naming = naming_for(folder_vocabulary, mapping)
    result, vocabulary, migration = load_sources(paths, fmt, naming)
    if migration is not None and not as_json:
        migration_output.print_skipped(migration)
    warnings = definition_warnings(result, vocabulary or folder_vocabulary, verbose=verbose)
    refused = bool(result.problems) or (strict and bool(warnings))
    if as_json:
        output.print_json(
            {
                "valid": not refused,
                "tools": [lt.tool.name for lt in result.tools],
                "problems": [
                    {"file": p.file, "line": p.line, "path": p.path, "message": p.message}
                    for p in result.problems
                ],
                "warnings": warnings,
                "notes": [str(findings.from_problem(p)) for p in result.notes],
            }
        )
    elif result.problems:
        output.report_error(
            InvalidDefinition(f"{len(result.problems)} problem(s)", result.problems)
        )
    elif refused:
        output.err.print(f"error: {len(warnings)} warning(s) and --strict", highlight=False)
    else:
        noted = f", with {len(warnings)} warning(s)" if warnings else ""
        output.out.print(
            f"{len(result.tools)} tool definition(s) are valid{noted}", highlight=False
        )
    if refused:
        raise typer.Exit(EXIT_INVALID)


def list_command(
    platform: Annotated[Platform | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    status: Annotated[Status | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Repeatable; all must match.")] = None,
    capability: Annotated[str | None, typer.Option()] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Full-text search.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 500,
    as_json: JsonFlag = False,
) -> None:
    """List tools, optionally filtered."""
    filters = ToolFilter(
        platform=platform.value if platform else None,
        category=category,
        status=status.value if status else None,
        tags=tuple(tag or ()),
        capability=capability,
        q=query,
    )

    async def go() -> list[list[object]]:
        async with command_runtime(cli_settings()) as runtime:
            page = await runtime.catalog.list_tools(filters, limit=limit)
        return [
            [i.tool.name, i.tool.platform.value, i.tool.category, i.tool.status.value,
             i.revision, [c.name for c in i.tool.capabilities]]
            for i in page.items
        ]  # fmt: skip

    rows = asyncio.run(go())
    if as_json:
        keys = ["name", "platform", "category", "status", "revision", "capabilities"]
        output.print_json([dict(zip(keys, row, strict=True)) for row in rows])
    else:
        shown = [[*row[:-1], ", ".join(row[-1])] for row in rows]  # type: ignore[arg-type]
        output.table(None, ["name", "platform", "category", "status", "rev", "capabilities"], shown)


def show_command(name: str, as_json: JsonFlag = False) -> None:
    """Print one tool's definition (YAML, or JSON with --json)."""

    async def go() -> str | dict[str, object]:
        async with command_runtime(cli_settings()) as runtime:
            cached = await runtime.catalog.get_tool(name)
        return cached.tool.model_dump(mode="json") if as_json else dump_tool(cached.tool)

    shown = asyncio.run(go())
    if isinstance(shown, dict):
        output.print_json(shown)
    else:
        output.out.print(shown, highlight=False, markup=False, end="")


def reload_command() -> None:
    """Tell every replica to drop its caches and reload the catalog."""

    async def go() -> int:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.catalog.reload_all(trigger="cli", actor=Actor("cli"))

    generation = asyncio.run(go())
    output.out.print(f"reload sent to all replicas (catalog generation {generation})")
