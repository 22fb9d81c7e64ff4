"""`toolcatalog` command. Exit codes: 0 ok, 1 invalid input or refused, 2 usage error.

Errors are one line on stderr (plus one per problem of an invalid definition); never a trace.
"""

from __future__ import annotations

import sys
from difflib import get_close_matches
from importlib import import_module
from typing import Annotated, Any

import typer
from typer._click.core import Command, Context  # Typer 0.29 carries its own click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.models import CommandInfo

from toolcatalog.cli.running import refusals

# Every command, as "module:attribute" (a function is a command, a Typer app a group of them),
# imported only when it runs: one command's start-up no longer pays for importing every
# other command's dependencies (the service, the selector, uvicorn, the MCP SDK). Measured by
# bench/cli_start.py. `--help` imports them all, to list their help lines.
COMMANDS = {
    "serve": "toolcatalog.cli.serve:serve",
    "import": "toolcatalog.cli.importing:import_command",
    "export": "toolcatalog.cli.catalog_commands:export_command",
    "validate": "toolcatalog.cli.catalog_commands:validate_command",
    "list": "toolcatalog.cli.catalog_commands:list_command",
    "show": "toolcatalog.cli.catalog_commands:show_command",
    "reload": "toolcatalog.cli.catalog_commands:reload_command",
    "select": "toolcatalog.cli.select:select_command",
    "mcp": "toolcatalog.cli.mcp_command:mcp_command",
    "backup": "toolcatalog.cli.backup:backup_command",
    "restore": "toolcatalog.cli.backup:restore_command",
    "db": "toolcatalog.cli.db:db_app",
    "keys": "toolcatalog.cli.keys:keys_app",
    "analytics": "toolcatalog.cli.analytics:analytics_app",
}


class LazyCommands(TyperGroup):
    """The root group: commands registered on `app` as usual, plus those of COMMANDS, built
    from their module when first asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        registered = super().list_commands(ctx)
        return [*registered, *(name for name in COMMANDS if name not in registered)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module, attribute = COMMANDS[cmd_name].split(":")
        target = getattr(import_module(module), attribute)
        command: Command
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            command = typer.main.get_command_from_info(
                CommandInfo(name=cmd_name, callback=target),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
        command.name = cmd_name
        return command

    def invoke(self, ctx: Context) -> Any:
        with refusals():  # the CLI's one error mapping, around every command
            return super().invoke(ctx)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            # Typer suggests among registered commands only; ours are mostly in COMMANDS.
            close = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if close and "Did you mean" not in exc.message:
                names = ", ".join(repr(m) for m in close)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise


app = typer.Typer(
    cls=LazyCommands,
    name="toolcatalog",
    help="Tool catalog and Stage B tool selector for AI operations agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from toolcatalog.config import toolcatalog_version

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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)


if __name__ == "__main__":
    main()
