"""`toolcatalog backup FILE` and `toolcatalog restore FILE [--replace]`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from toolcatalog.cli import output
from toolcatalog.cli.running import cli_settings
from toolcatalog.runtime import backup_database, restore_database


def _rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in rows.items() if n) or "no rows"


def backup_command(
    file: Annotated[Path, typer.Argument(help="The archive to write (a zip file).")],
    as_json: output.JsonFlag = False,
) -> None:
    """Back up everything (tools, versions, audit log, vocabulary, environments, API key
    hashes, telemetry, experiments...) as of one snapshot, while the service runs."""
    where, report = asyncio.run(backup_database(cli_settings(), file))
    if as_json:
        output.print_json(
            {"database": where, "file": str(file), "schema_version": report.schema_version,
             "rows": report.rows}
        )  # fmt: skip
        return
    output.out.print(
        f"backed up {where} (schema {report.schema_version:04d}) to {file}, "
        f"{file.stat().st_size:,} bytes: {_rows(report.rows)}",
        highlight=False,
        markup=False,
    )


def restore_command(
    file: Annotated[Path, typer.Argument(help="An archive written by `toolcatalog backup`.")],
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Drop what the target database holds first."),
    ] = False,
    as_json: output.JsonFlag = False,
) -> None:
    """Restore a backup into an empty database or home (one transaction; an older backup is
    migrated to this release's schema). Stop the service on the target first."""
    where, report = asyncio.run(restore_database(cli_settings(), file, replace=replace))
    if as_json:
        output.print_json(
            {"database": where, "file": str(file), "backup_created_at": report.created_at,
             "backup_schema_version": report.backup_schema_version,
             "schema_version": report.schema_version, "rows": report.rows,
             "replaced": report.replaced}
        )  # fmt: skip
        return
    migrated = (
        f", migrated {report.backup_schema_version:04d} -> {report.schema_version:04d}"
        if report.schema_version != report.backup_schema_version
        else ""
    )
    replaced = f"; replaced {_rows(report.replaced)}" if report.replaced else ""
    output.out.print(
        f"restored {file} (taken {report.created_at}) into {where}{migrated}: "
        f"{_rows(report.rows)}{replaced}",
        highlight=False,
        markup=False,
    )
