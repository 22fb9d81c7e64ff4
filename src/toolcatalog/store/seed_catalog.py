"""Reading a running OpsConductor (the seed system) database: its `tool_catalog` schema's tools
with capabilities and patterns and its audit log, as plain rows, in one read-only REPEATABLE
READ transaction on a connection of its own (it is not our database); its telemetry, which
may be millions of rows, streamed in batches when it is written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from toolcatalog.errors import InvalidDefinition, Problem, StoreUnavailable
from toolcatalog.store.connection_settings import init_connection, redact

SEED_SCHEMA = "tool_catalog"
# Tables whose rows are read, and those only counted (their shapes have no home here).
COUNTED_TABLES = ("tool_ab_tests", "tool_cache")


@dataclass
class SeedRows:
    """Rows as dicts (JSONB decoded, numerics as floats). `tools`: the latest version of each
    tool, each with `capabilities` (each with `patterns`) in id order."""

    source: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    telemetry: dict[str, int] = field(default_factory=dict)  # rows per seed tool name
    counted: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)


async def read_seed_catalog(url: str, *, timeout_s: float = 10.0) -> SeedRows:
    """Everything migrated from the seed database at `url` but the telemetry rows (counted per
    tool). StoreUnavailable when it cannot be reached; InvalidDefinition when it has no
    OpsConductor catalog."""
    conn = await _connect(url, timeout_s)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _read(conn, redact(url))
    finally:
        await conn.close()


async def stream_seed_telemetry(
    url: str, tool_names: Sequence[str], *, batch: int = 10_000, timeout_s: float = 10.0
) -> AsyncIterator[list[dict[str, Any]]]:
    """The telemetry of the seed tools named, oldest first, `batch` rows at a time (a
    server-side cursor, so memory stays bounded whatever the table holds)."""
    conn = await _connect(url, timeout_s)
    try:
        async with conn.transaction(readonly=True):
            cursor = await conn.cursor(
                """
                SELECT m.id, t.tool_name, c.capability_name, p.pattern_name, m.actual_time_ms,
                       m.actual_cost, m.success, m.context_variables, m.execution_id,
                       m.executed_at
                FROM tool_catalog.tool_telemetry m
                JOIN tool_catalog.tool_patterns p ON p.id = m.pattern_id
                JOIN tool_catalog.tool_capabilities c ON c.id = p.capability_id
                JOIN tool_catalog.tools t ON t.id = c.tool_id
                WHERE t.tool_name = ANY($1::text[])
                ORDER BY m.executed_at, m.id
                """,
                list(tool_names),
            )
            while rows := await cursor.fetch(batch):
                yield _plain(rows)
    finally:
        await conn.close()


async def _connect(url: str, timeout_s: float) -> Any:
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        source = redact(url)
        raise StoreUnavailable(f"cannot reach the OpsConductor database {source}: {exc}") from None
    await init_connection(conn)
    return conn


async def _read(conn: Any, source: str) -> SeedRows:
    present = {
        r["table_name"]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", SEED_SCHEMA
        )
    }
    columns = {
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'tools'",
            SEED_SCHEMA,
        )
    }
    if not {"tool_capabilities", "tool_patterns"} <= present or "tool_name" not in columns:
        message = (
            "no OpsConductor catalog here: expected tool_catalog.tools (with tool_name), "
            "tool_capabilities and tool_patterns"
        )
        raise InvalidDefinition(
            f"{source} is not an OpsConductor database", [Problem("", message, source)]
        )
    rows = SeedRows(source)
    rows.tools = await _tools(conn)
    if "tool_audit_log" in present:
        rows.audit = _plain(await conn.fetch(
            """
            SELECT a.id, t.tool_name, a.entity_type, a.entity_id, a.action, a.changes,
                   a.changed_by, a.changed_at, a.reason, a.ip_address
            FROM tool_catalog.tool_audit_log a JOIN tool_catalog.tools t ON t.id = a.tool_id
            ORDER BY a.changed_at, a.id
            """
        ))  # fmt: skip
    if "tool_telemetry" in present:
        counts = await conn.fetch(
            """
            SELECT t.tool_name, count(*) AS n FROM tool_catalog.tool_telemetry m
            JOIN tool_catalog.tools t ON t.id = m.tool_id GROUP BY t.tool_name
            """
        )
        rows.telemetry = {r["tool_name"]: int(r["n"]) for r in counts}
    for table in ("tool_audit_log", "tool_telemetry", *COUNTED_TABLES):
        if table not in present:
            rows.absent.append(table)
        elif table in COUNTED_TABLES:
            # Table names from the constant above, never from input.
            count = await conn.fetchval(f"SELECT count(*) FROM tool_catalog.{table}")  # noqa: S608
            rows.counted[table] = int(count)
    return rows


async def _tools(conn: Any) -> list[dict[str, Any]]:
    # The latest version of each tool: is_latest, and the newest row if several claim it.
    tools = _plain(await conn.fetch(
        """
        SELECT DISTINCT ON (tool_name) *
        FROM tool_catalog.tools
        WHERE is_latest IS NOT FALSE
        ORDER BY tool_name, id DESC
        """
    ))  # fmt: skip
    ids = [t["id"] for t in tools]
    capabilities = _plain(await conn.fetch(
        "SELECT * FROM tool_catalog.tool_capabilities WHERE tool_id = ANY($1::int[]) ORDER BY id",
        ids,
    ))  # fmt: skip
    patterns = _plain(await conn.fetch(
        """
        SELECT * FROM tool_catalog.tool_patterns
        WHERE capability_id = ANY($1::int[]) ORDER BY id
        """,
        [c["id"] for c in capabilities],
    ))  # fmt: skip
    by_capability: dict[int, list[dict[str, Any]]] = {}
    for pattern in patterns:
        by_capability.setdefault(pattern["capability_id"], []).append(pattern)
    by_tool: dict[int, list[dict[str, Any]]] = {}
    for capability in capabilities:
        capability["patterns"] = by_capability.get(capability["id"], [])
        by_tool.setdefault(capability["tool_id"], []).append(capability)
    for tool in tools:
        tool["capabilities"] = by_tool.get(tool["id"], [])
    return sorted(tools, key=lambda t: t["id"])


def _plain(records: list[Any]) -> list[dict[str, Any]]:
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in records]
