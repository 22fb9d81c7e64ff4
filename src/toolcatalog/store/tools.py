"""SQL for tools, their capabilities and patterns. Functions take a connection; the caller
owns the transaction. Writes are set-based (one statement per table for any number of tools)
so that importing 10,000 tools is a handful of round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Tool
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.changes import Published


@dataclass(frozen=True, slots=True)
class ToolRecord:
    """A stored tool: its definition document and the bookkeeping around it."""

    id: int
    name: str
    revision: int
    etag: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ToolWrite:
    """One tool to insert or update, with its derived columns computed by the caller;
    `encoded`: the definition as JSON text when the caller has it (sent as it is)."""

    tool: Tool
    definition: dict[str, Any]
    revision: int
    etag: str
    encoded: bytes | None = None

    @property
    def jsonb_value(self) -> Any:
        """The definition as the jsonb codec takes it."""
        return self.definition if self.encoded is None else orjson.Fragment(self.encoded)


@dataclass(frozen=True, slots=True)
class ToolHead:
    """A stored tool without its definition: enough to tell, from the content hash in its
    ETag, whether a definition is the stored one without fetching and decoding it."""

    id: int
    name: str
    revision: int
    etag: str


_RECORD_COLUMNS = "id, name, revision, etag, definition, created_at, updated_at"


def row_to_record(row: Any, definition: dict[str, Any] | None = None) -> ToolRecord:
    """The row as a ToolRecord; `definition`: the row's, decoded by the caller."""
    return ToolRecord(
        id=row["id"],
        name=row["name"],
        revision=row["revision"],
        etag=row["etag"],
        definition=row["definition"] if definition is None else definition,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def fetch_tool(conn: Any, name: str, *, for_update: bool = False) -> ToolRecord | None:
    sql = f"SELECT {_RECORD_COLUMNS} FROM tools WHERE name = $1"  # noqa: S608 - constant columns
    row = await conn.fetchrow(sql + (" FOR UPDATE" if for_update else ""), name)
    return row_to_record(row) if row else None


async def fetch_tools(
    conn: Any, names: Sequence[str], *, for_update: bool = False
) -> dict[str, ToolRecord]:
    sql = f"SELECT {_RECORD_COLUMNS} FROM tools WHERE name = ANY($1::text[]) ORDER BY name"  # noqa: S608
    rows = await conn.fetch(sql + (" FOR UPDATE" if for_update else ""), list(names))
    return {r["name"]: row_to_record(r) for r in rows}


async def fetch_tool_heads(
    conn: Any, names: Sequence[str], *, for_update: bool = False
) -> dict[str, ToolHead]:
    """The tools of `names` that exist, without their definitions (in name order, so that
    with `for_update` the rows are locked in the order every other writer locks them)."""
    sql = "SELECT id, name, revision, etag FROM tools WHERE name = ANY($1::text[]) ORDER BY name"
    rows = await conn.fetch(sql + (" FOR UPDATE" if for_update else ""), list(names))
    return {r["name"]: ToolHead(r["id"], r["name"], r["revision"], r["etag"]) for r in rows}


# A row version's stamp: `xmin` changes with every update of the row (an edit in SQL
# included); revision and ETag keep two versions written by one transaction apart.
_JSON_ROWS_SQL = (
    "SELECT id, name, revision, etag, definition::text AS definition, created_at, "
    "updated_at, xmin::text || ':' || revision || ':' || etag AS stamp FROM tools"
)


async def stream_tools_json(
    conn: Any, names: Sequence[str] | None = None, *, batch: int = 1000
) -> AsyncIterator[list[Any]]:
    """Every tool (or those of `names`) in name order, its definition as JSON text and its
    row's `stamp`, `batch` rows at a time from a cursor (the caller's transaction):
    `record_of_json_row` makes each row a ToolRecord. A whole read decodes, validates and
    encodes one batch beside the event loop while PostgreSQL makes and sends the next
    (100,000 tools: the fetch alone was ~8 s of wall time on a busy machine, all waited
    for before the first row was validated), one row at a time, instead of holding 100,000
    decoded documents at once."""
    if names is None:
        cursor = await conn.cursor(_JSON_ROWS_SQL + " ORDER BY name")
    else:
        sql = _JSON_ROWS_SQL + " WHERE name = ANY($1::text[]) ORDER BY name"
        cursor = await conn.cursor(sql, list(names))
    while rows := await cursor.fetch(batch):
        yield rows


async def fetch_tool_stamps(conn: Any) -> dict[str, str]:
    """Every tool's name with its row's stamp (as `stream_tools_json`'s): which rows
    changed since a saved version (100,000 tools: a few hundred ms)."""
    rows = await conn.fetch(
        "SELECT name, xmin::text || ':' || revision || ':' || etag AS stamp FROM tools"
    )
    return {r["name"]: r["stamp"] for r in rows}


def record_of_json_row(row: Any) -> ToolRecord:
    """A row of `stream_tools_json` as a ToolRecord."""
    return row_to_record(row, orjson.loads(row["definition"]))


async def count_tools(conn: Any) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM tools"))


async def count_tools_by_status(conn: Any) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM tools GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


_PROJECTION = """
    d->>'name', d->>'version', d->>'display_name', d->>'description', d->>'platform',
    d->>'category', ARRAY(SELECT jsonb_array_elements_text(d->'tags')), d->>'status',
    (d->>'enabled')::boolean, d->>'owner', d->>'docs_url',
    ARRAY(SELECT jsonb_array_elements_text(d->'examples')), d, r, e
"""


_UPDATE_HEAD = """
        UPDATE tools AS x SET
            version = n.version, display_name = n.display_name, description = n.description,
            platform = n.platform, category = n.category, tags = n.tags, status = n.status,
            enabled = n.enabled, owner = n.owner, docs_url = n.docs_url, examples = n.examples,
            definition = n.definition, revision = n.revision, etag = n.etag
        FROM (SELECT """
_UPDATE_TAIL = """
              FROM unnest($1::jsonb[], $2::int[], $3::text[]) AS t(d, r, e)
        ) AS n(name, version, display_name, description, platform, category, tags, status,
               enabled, owner, docs_url, examples, definition, revision, etag)
        WHERE x.name = n.name
        RETURNING x.id, x.name
        """
# Built once from constants; every value is a $n parameter.
_UPDATE_TOOLS_SQL = _UPDATE_HEAD + _PROJECTION + _UPDATE_TAIL


async def insert_tools(conn: Any, writes: Sequence[ToolWrite]) -> dict[str, int]:
    """Insert new tools (and their structure); returns name -> id.

    The rows are COPYed with ids drawn from the table's identity beforehand (COPY writes the
    values given, as INSERT ... OVERRIDING SYSTEM VALUE would), their columns projected from
    the definition here instead of by `d->>'...'` in the server (UPDATE's projection)."""
    if not writes:
        return {}
    ids = dict(
        zip((w.tool.name for w in writes), await _new_ids(conn, "tools", len(writes)), strict=True)
    )
    await conn.copy_records_to_table(
        "tools",
        schema_name="tool_catalog",
        columns=_TOOL_COLUMNS,
        records=[(ids[w.tool.name], *_tool_values(w)) for w in writes],
    )
    await insert_structure(conn, [(ids[w.tool.name], w.tool) for w in writes])
    return ids


_TOOL_COLUMNS = [
    "id", "name", "version", "display_name", "description", "platform", "category", "tags",
    "status", "enabled", "owner", "docs_url", "examples", "definition", "revision", "etag",
]  # fmt: skip


def _tool_values(w: ToolWrite) -> tuple[Any, ...]:
    """A write's columns after `id` (_TOOL_COLUMNS[1:]): what _PROJECTION makes of its
    definition (a text column of a JSON value that is not a string would be its JSON text;
    a valid definition has none)."""
    d = w.definition
    return (
        d["name"], d["version"], d.get("display_name"), d["description"], d["platform"],
        d["category"], d.get("tags", []), d["status"], d["enabled"], d.get("owner"),
        d.get("docs_url"), d.get("examples", []), w.jsonb_value, w.revision, w.etag,
    )  # fmt: skip


async def _new_ids(conn: Any, table: str, n: int) -> list[int]:
    """`n` values of `table`'s identity column `id` (one round trip; a sequence is not
    transactional, so any connection may draw them)."""
    rows = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)",
        f"tool_catalog.{table}",
        n,
    )
    return [r["id"] for r in rows]


async def update_tools(conn: Any, writes: Sequence[ToolWrite]) -> dict[str, int]:
    """Replace existing tools' definitions (and structure); returns name -> id."""
    if not writes:
        return {}
    rows = await conn.fetch(
        _UPDATE_TOOLS_SQL,
        *_columns(writes),
    )
    ids = {r["name"]: r["id"] for r in rows}
    await conn.execute(
        "DELETE FROM tool_capabilities WHERE tool_id = ANY($1::bigint[])", list(ids.values())
    )
    await insert_structure(conn, [(ids[w.tool.name], w.tool) for w in writes])
    return ids


def _columns(writes: Sequence[ToolWrite]) -> tuple[list[Any], ...]:
    return (
        [w.jsonb_value for w in writes],
        [w.revision for w in writes],
        [w.etag for w in writes],
    )


async def insert_structure(conn: Any, tools: Sequence[tuple[int, Tool]]) -> None:
    """Insert the capability and pattern rows of freshly inserted or cleared tools."""
    count = sum(len(tool.capabilities) for _, tool in tools)
    if not count:
        return
    cap_ids = iter(await _new_ids(conn, "tool_capabilities", count))
    caps: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    for tool_id, tool in tools:
        for position, cap in enumerate(tool.capabilities):
            cap_id = next(cap_ids)
            caps.append((cap_id, tool_id, cap.name, cap.description, position))
            records += [
                (cap_id, tool_id, *_pattern_values(pat, pos))
                for pos, pat in enumerate(cap.patterns)
            ]
    await conn.copy_records_to_table(
        "tool_capabilities",
        schema_name="tool_catalog",
        columns=["id", "tool_id", "name", "description", "position"],
        records=caps,
    )
    # COPY is the fastest bulk path (measured: 60,000 patterns in ~1 s against ~4.5 s for
    # INSERT ... SELECT FROM unnest with per-row array conversion).
    await conn.copy_records_to_table(
        "tool_patterns", schema_name="tool_catalog", columns=_PATTERN_COLUMNS, records=records
    )


def _pattern_values(pat: Pattern, position: int) -> tuple[Any, ...]:
    """A pattern's columns after capability_id and tool_id (_PATTERN_COLUMNS[2:])."""
    prof, pol = pat.profile, pat.policy
    time_at_defaults, cost_at_defaults = pat.estimates_at_defaults
    return (
        pat.name,
        pat.description,
        list(pat.typical_use_cases),
        time_at_defaults,
        prof.time_estimate_ms if isinstance(prof.time_estimate_ms, str) else None,
        cost_at_defaults,
        prof.cost_estimate if isinstance(prof.cost_estimate, str) else None,
        prof.complexity,
        prof.accuracy,
        prof.completeness,
        pol.production_safe,
        pol.requires_approval,
        pol.max_cost,
        pol.max_execution_time_ms,
        pol.requires_background_if,
        [e.value for e in pol.allowed_environments]
        if pol.allowed_environments is not None
        else None,
        position,
    )


_PATTERN_COLUMNS = [
    "capability_id", "tool_id", "name", "description", "typical_use_cases", "time_estimate_ms",
    "time_estimate_expr", "cost_estimate", "cost_estimate_expr", "complexity", "accuracy",
    "completeness", "production_safe", "requires_approval", "max_cost", "max_execution_time_ms",
    "requires_background_if", "allowed_environments", "position",
]  # fmt: skip


async def delete_tool(conn: Any, tool_id: int) -> None:
    await conn.execute("DELETE FROM tools WHERE id = $1", tool_id)


@dataclass(frozen=True, slots=True)
class BatchedWrite:
    """One write of a `write_tools` batch: `write` applies if the row is still at
    `expected_revision`, with `audit` as its audit entry."""

    write: ToolWrite
    expected_revision: int
    audit: AuditWrite


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What write_tools did with one write: `written` (record is the new row), `moved` (the
    row is past the expected revision: record is the current row, nothing written),
    `missing` (no such tool), `skipped` (an earlier write of the same tool in the batch did
    not land: nothing written) or `failed` (the database refused it: `error`)."""

    outcome: str
    record: ToolRecord | None
    error: asyncpg.PostgresError | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Each write's outcome, in order, and the batch's change as published (None when nothing
    was written)."""

    outcomes: list[WriteOutcome]
    published: Published | None


def _write_document(item: BatchedWrite) -> dict[str, Any]:
    write, tool, audit = item.write, item.write.tool, item.audit
    return {
        "name": tool.name,
        "expected_revision": item.expected_revision,
        "definition": write.definition,
        "etag": write.etag,
        "capabilities": [
            {"name": c.name, "description": c.description, "position": pos}
            for pos, c in enumerate(tool.capabilities)
        ],
        "patterns": [
            {
                "capability": c.name,
                **dict(zip(_PATTERN_COLUMNS[2:], _pattern_values(p, pos), strict=True)),
            }
            for c in tool.capabilities
            for pos, p in enumerate(c.patterns)
        ],
        "actor": audit.actor,
        "action": audit.action,
        "diff": audit.diff,
        "request_id": audit.request_id,
        "client_address": audit.client_address,
    }


async def write_tools(conn: Any, items: Sequence[BatchedWrite], origin: str) -> BatchOutcome:
    """Apply `items` in order in one round trip and one transaction (`write_tools`,
    migrations 0008 and 0010): each write (row, capabilities, patterns, version, audit entry)
    lands whole or not at all, provided its row is still at its expected revision; a write the
    database refuses fails alone. When anything landed, the batch is one change of the
    catalog's log (store/changes.py), made by replica `origin`: its notice is the caller's to
    send, after the commit. Run it as its own transaction (Database.statement)."""
    rows = await conn.fetch(
        "SELECT * FROM write_tools($1, $2)", [_write_document(item) for item in items], origin
    )
    outcomes: list[WriteOutcome] = []
    published: Published | None = None
    for row in rows:
        if row["ord"] == 0:
            published = Published(int(row["id"]), int(row["generation"]), int(row["xid"]))
            continue
        item = items[row["ord"] - 1]
        outcome = row["outcome"]
        record: ToolRecord | None = None
        if outcome in ("written", "moved"):
            record = ToolRecord(
                row["id"], item.write.tool.name, row["revision"], row["etag"],
                row["definition"], row["created_at"], row["updated_at"],
            )  # fmt: skip
        error = None
        if outcome == "failed":
            error = refusal(row["error_state"], row["error_constraint"], row["error_message"])
        outcomes.append(WriteOutcome(outcome, record, error))
    return BatchOutcome(outcomes, published)


def refusal(sqlstate: str, constraint: str | None, message: str) -> asyncpg.PostgresError:
    """The asyncpg exception PostgreSQL's error `sqlstate` would have raised, for an error a
    function caught and returned (store/errors.translate maps it as any other)."""
    lookup = type(asyncpg.PostgresError).get_message_class_for_sqlstate  # type: ignore[attr-defined]
    error: asyncpg.PostgresError = lookup(sqlstate)(message)
    error.constraint_name = constraint
    return error
