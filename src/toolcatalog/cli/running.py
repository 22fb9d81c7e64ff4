"""Running async work from commands, with CatalogErrors turned into exit code 1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError

from toolcatalog.cli import output
from toolcatalog.config import Settings, settings_problems
from toolcatalog.errors import CatalogError
from toolcatalog.logs import configure_logging

if TYPE_CHECKING:
    from toolcatalog.runtime import Runtime

T = TypeVar("T")
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro`; a CatalogError becomes one line on stderr and exit code 1."""
    try:
        return asyncio.run(coro)
    except CatalogError as exc:
        output.report_error(exc)
        raise typer.Exit(EXIT_INVALID) from None


def cli_settings(**overrides: Any) -> Settings:
    """Settings from the environment; commands log warnings and above unless asked."""
    try:
        settings = Settings(**overrides) if overrides else Settings()
    except ValidationError as exc:
        for line in settings_problems(exc):
            output.report_message(f"invalid setting {line}")
        raise typer.Exit(EXIT_INVALID) from None
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
