"""`toolcatalog db migrate|status`."""

from __future__ import annotations

from typing import Annotated

import typer

from toolcatalog.cli import output
from toolcatalog.cli.running import cli_settings, run_async
from toolcatalog.config import Settings
from toolcatalog.store.database import Database
from toolcatalog.store.migrate import MigrationState, migrate, migration_status

db_app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)


async def _with_db(settings: Settings, action: str) -> tuple[str, list[MigrationState] | list[str]]:
    database = Database(settings)
    await database.open()
    try:
        async with database.connection(action) as conn:
            if action == "migrate":
                applied = await migrate(conn)
                return database.display_url, [f"{m.version:04d}_{m.name}" for m in applied]
            return database.display_url, await migration_status(conn)
    finally:
        await database.close()


def _run(action: str) -> tuple[str, list[MigrationState] | list[str]]:
    return run_async(_with_db(cli_settings(), action))


@db_app.command("migrate")
def migrate_command() -> None:
    """Apply pending migrations (safe to run from several replicas at once)."""
    where, applied = _run("migrate")
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
    """Show applied and pending migrations."""
    where, states = _run("status")
    rows = [s for s in states if isinstance(s, MigrationState)]
    if as_json:
        output.print_json(
            {
                "database": where,
                "migrations": [
                    {
                        "version": s.migration.version,
                        "name": s.migration.name,
                        "applied_at": s.applied_at,
                        "state": "applied" if s.applied else "pending",
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
             "applied" if s.applied else "pending", s.applied_at]
            for s in rows
        ],
    )  # fmt: skip
