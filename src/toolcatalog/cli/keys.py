"""`toolcatalog keys create|list|revoke`: API keys for the REST API.

`keys create` prints the new key alone on stdout (so `KEY=$(toolcatalog keys create ...)`
captures it) and a note on stderr; the key is shown only this once.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from toolcatalog.catalog.keys import ApiKey, CreatedKey, Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.cli import output
from toolcatalog.cli.running import cli_settings, command_runtime

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
CLI_ACTOR = Actor("cli")


@keys_app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="Unique, e.g. ci-bot.", show_default=False)],
    role: Annotated[
        Role,
        typer.Option("--role", help="reader < editor < admin; reporter: posts telemetry only."),
    ] = Role.reader,
) -> None:
    """Create a key and print it (only this once); only its hash is stored."""

    async def go() -> CreatedKey:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.keys.create(name, role, actor=CLI_ACTOR)

    created = asyncio.run(go())
    sys.stdout.write(created.secret + "\n")
    output.err.print(
        f"created {created.key.role} key {created.key.name!r}; it is shown only this once",
        highlight=False,
        markup=False,
    )


@keys_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never their secrets)."""

    async def go() -> list[ApiKey]:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.keys.list_keys()

    keys = asyncio.run(go())
    if as_json:
        output.print_json(
            [
                {
                    "name": k.name,
                    "role": k.role.value,
                    "prefix": k.prefix,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "revoked_at": k.revoked_at,
                }
                for k in keys
            ]
        )
        return
    output.table(
        None,
        ["name", "role", "prefix", "created", "last used", "revoked"],
        [[k.name, k.role.value, k.prefix, k.created_at, k.last_used_at, k.revoked_at]
         for k in keys],
    )  # fmt: skip


@keys_app.command("revoke")
def revoke_command(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: it stops working at once."""

    async def go() -> ApiKey:
        async with command_runtime(cli_settings()) as runtime:
            return await runtime.keys.revoke(name, actor=CLI_ACTOR)

    revoked = asyncio.run(go())
    output.out.print(f"revoked key {revoked.name!r}", highlight=False, markup=False)
