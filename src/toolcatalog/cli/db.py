"""`toolcatalog db migrate|status`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from toolcatalog.cli import output
from toolcatalog.cli.running import EXIT_INVALID, cli_settings
from toolcatalog.runtime import MigrationState, database_migrations, migrate_database

db_app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)


@db_app.command("migrate")
def migrate_command() -> None:
    """Apply pending migrations (safe to run from several replicas at once)."""
    where, applied = asyncio.run(migrate_database(cli_settings()))
    if applied:
        output.out.print(
            f"applied {len(applied)} migration(s) to {where}: {', '.join(map(str, applied))}"
        )
    else:
        output.out.print(f"{where} is up to date")


@db_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show applied and pending migrations; exits 1 when the database has drifted from this
    release (an applied migration edited since, or one this release does not know)."""
    where, rows = asyncio.run(database_migrations(cli_settings()))
    _print_status(where, rows, as_json=as_json)
    drifted = [s for s in rows if s.drifted]
    if drifted:
        for s in drifted:
            output.report_message(
                f"migration {s.migration.version:04d}_{s.migration.name} is {s.state}: "
                + (
                    "its file changed after it was applied; restore the file shipped "
                    "with the release that applied it"
                    if s.state == "edited"
                    else "a newer toolcatalog release applied it; run that release"
                )
            )
        raise typer.Exit(EXIT_INVALID)


def _print_status(where: str, rows: list[MigrationState], *, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "database": where,
                "migrations": [
                    {
                        "version": s.migration.version,
                        "name": s.migration.name,
                        "applied_at": s.applied_at,
                        "state": s.state,
                    }
                    for s in rows
                ],
            }
        )
        return
    output.table(
        where,
        ["version", "name", "state", "applied at"],
        [
            [f"{s.migration.version:04d}", s.migration.name,
             s.state, s.applied_at]
            for s in rows
        ],
    )  # fmt: skip
