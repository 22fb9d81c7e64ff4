"""Rendering for the CLI: Rich tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from toolcatalog.errors import CatalogError, InvalidDefinition

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*[("" if v is None else str(v)) for v in row])
    out.print(t)


def report_message(detail: str) -> None:
    """One line for people on stderr: `error: <detail>`; the detail is printed as given."""
    err.print(f"[bold red]error:[/] {escape(detail)}", highlight=False, markup=True)


def report_error(exc: CatalogError) -> None:
    """One line for people on stderr (plus one line per problem of an invalid definition)."""
    report_message(exc.detail)
    if isinstance(exc, InvalidDefinition):
        for problem in exc.problems:
            err.print(f"  {problem}", highlight=False, markup=False)


def validation_message(exc: ValidationError) -> str:
    """What pydantic refused, on one line: `where: why` per error, `; ` between them."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)
