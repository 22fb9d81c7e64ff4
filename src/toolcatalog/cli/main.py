"""`toolcatalog` command. Exit codes: 0 ok, 1 invalid input or refused, 2 usage error.

Errors are one line on stderr (plus one per problem of an invalid definition); never a trace.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from toolcatalog.cli import backup, catalog_commands, importing, output, select
from toolcatalog.cli.analytics import analytics_app
from toolcatalog.cli.db import db_app
from toolcatalog.cli.keys import keys_app
from toolcatalog.cli.mcp_command import mcp_command
from toolcatalog.cli.running import EXIT_INVALID
from toolcatalog.cli.serve import serve
from toolcatalog.errors import CatalogError

app = typer.Typer(
    name="toolcatalog",
    help="Tool catalog and Stage B tool selector for AI operations agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from toolcatalog.runtime import toolcatalog_version

        typer.echo(f"toolcatalog {toolcatalog_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Tool catalog and Stage B tool selector for AI operations agents."""


app.command("serve")(serve)
app.command("import")(importing.import_command)
app.command("export")(catalog_commands.export_command)
app.command("validate")(catalog_commands.validate_command)
app.command("list")(catalog_commands.list_command)
app.command("show")(catalog_commands.show_command)
app.command("reload")(catalog_commands.reload_command)
app.command("select")(select.select_command)
app.command("mcp")(mcp_command)
app.command("backup")(backup.backup_command)
app.command("restore")(backup.restore_command)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(analytics_app, name="analytics")


def main() -> None:
    try:
        app()
    except CatalogError as exc:  # one refusal that a command did not map itself: no traceback
        output.report_error(exc)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)


if __name__ == "__main__":
    main()
