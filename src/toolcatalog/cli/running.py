"""Running commands: the CLI's one error mapping (`refusals`, around every command), and the
settings and runtime a command uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from toolcatalog.cli import output
from toolcatalog.config import Settings, settings_problems
from toolcatalog.errors import CatalogError
from toolcatalog.logs import configure_logging

if TYPE_CHECKING:
    from toolcatalog.runtime import Runtime

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@contextmanager
def refusals() -> Iterator[None]:
    """The CLI's one error mapping, around every command (main.LazyCommands.invoke): a
    CatalogError is one line on stderr (plus one per problem of an invalid definition), a
    value pydantic refuses one line saying which and why (a setting: one line per bad
    variable), and exit code 1. Never a trace."""
    try:
        yield
    except CatalogError as exc:
        output.report_error(exc)
        raise typer.Exit(EXIT_INVALID) from None
    except ValidationError as exc:
        if exc.title == Settings.__name__:
            for line in settings_problems(exc):
                output.report_message(f"invalid setting {line}")
        else:
            output.report_message(output.validation_message(exc))
        raise typer.Exit(EXIT_INVALID) from None


def cli_settings(**overrides: Any) -> Settings:
    """Settings from the environment (a bad one is refused by `refusals`); commands log
    warnings and above unless asked."""
    settings = Settings(**overrides) if overrides else Settings()
    configure_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)
    return settings


@asynccontextmanager
async def command_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime for one command: no change listener, migrations applied. (The runtime is
    imported here, not at the top: a command that needs no database, such as `select
    --catalog` or `validate`, does not pay for importing the store and the service.)"""
    from toolcatalog.runtime import open_runtime

    async with open_runtime(settings, listen=False) as runtime:
        yield runtime
