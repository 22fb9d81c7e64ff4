"""What every pooled connection is opened with: its startup parameters (the search path, the
lock timeout) and the jsonb codec; and a database URL as logs may show it (no password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from toolcatalog.config import Settings


def redact(url: str) -> str:
    """The URL without its password, for logs and banners."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


SERVER_SETTINGS = {"search_path": "tool_catalog, public", "application_name": "toolcatalog"}


def server_settings(settings: Settings) -> dict[str, str]:
    """Startup parameters of every pooled connection. `lock_timeout` makes a write that waits
    on another's row lock give up (LockNotAvailable, mapped to Busy) before the command
    timeout would call the database unreachable: a queue of writers on one tool is
    contention, not an outage. A startup parameter, not a SET: free, and RESET ALL keeps it.
    Capped at half the command timeout: with the two equal (a command timeout of 2 s and the
    default lock timeout), a busy machine let the command timeout win and a lock wait was
    reported as an outage (503) about one run in two."""
    lock_s = min(settings.db_lock_timeout_s, settings.db_command_timeout_s / 2)
    lock_ms = max(1, round(lock_s * 1000))
    return SERVER_SETTINGS | {"lock_timeout": f"{lock_ms}ms"}


def _encode_jsonb(value: Any) -> bytes:
    # jsonb's binary wire format: a version byte (1), then the JSON text. Binary is what COPY
    # needs, and it skips a text round trip per value.
    return b"\x01" + orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def init_connection(conn: Any) -> None:
    """Per-connection set-up: jsonb as Python data via orjson. (The search path is a startup
    parameter, SERVER_SETTINGS, because the pool's RESET ALL would undo a SET.)"""
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )
