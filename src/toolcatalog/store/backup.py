"""The SQL side of backup and restore: every table of the tool_catalog schema, found in
PostgreSQL's catalog (so a table a later migration adds is included without a change here),
copied out and in with COPY in text format, and the schema's sequences.

In-process COPY rather than pg_dump/pg_restore: it needs no client binaries (pg_dump must be
at least as new as the server, so the embedded server's 16 cannot dump an external 17), it
works the same for the embedded server and DATABASE_URL, the archive keeps data only (the
schema comes from our own migrations, so an older backup restores and then migrates), and
text COPY is portable across PostgreSQL major versions. Functions take a connection; the
caller owns the transaction (a REPEATABLE READ one for a backup: one snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA = "tool_catalog"
# Bookkeeping that the archive carries in its manifest instead of as data: migrations write
# it on restore.
NOT_COPIED = frozenset({"schema_migrations"})
# Rows that only say what the migrations made (the one catalog_state row), the log of recent
# changes (bookkeeping of the generation) or what is rebuilt by itself (cached embeddings):
# they do not make a target "hold data".
NOT_USER_DATA = frozenset({"schema_migrations", "catalog_state", "catalog_changes", "tool_cache"})
# A COPY of a large table outlives the pool's statement timeout; bounded all the same.
COPY_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(name: str) -> str:
    return f"{quote_ident(SCHEMA)}.{quote_ident(name)}"


async def schema_exists(conn: Any) -> bool:
    return bool(await conn.fetchval("SELECT to_regnamespace($1) IS NOT NULL", SCHEMA))


async def fetch_tables(conn: Any) -> list[Table]:
    """Every table of the schema (partitioned parents, not their partitions), parents before
    the tables whose foreign keys point at them, with the columns COPY may write (not
    generated, not dropped)."""
    rows = await conn.fetch(
        "SELECT c.oid, c.relname,"
        " array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"
        "       AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum)::text[]"
        "   AS columns,"
        " array(SELECT DISTINCT f.confrelid::bigint FROM pg_constraint f WHERE f.conrelid = c.oid"
        "       AND f.contype = 'f' AND f.confrelid <> c.oid) AS parents"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " ORDER BY c.relname",
        SCHEMA,
    )
    by_oid = {r["oid"]: r for r in rows}
    ordered: list[Table] = []
    placed: set[int] = set()
    remaining = [r["oid"] for r in rows]
    while remaining:
        ready = [
            o
            for o in remaining
            if all(p in placed or p not in by_oid for p in by_oid[o]["parents"])
        ]
        if not ready:  # a cycle of foreign keys: keep the name order (none exists today)
            ready = remaining[:1]
        for oid in ready:
            placed.add(oid)
            remaining.remove(oid)
            row = by_oid[oid]
            if row["relname"] not in NOT_COPIED:
                ordered.append(Table(row["relname"], tuple(row["columns"])))
    return ordered


async def count_rows(conn: Any, tables: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in tables:
        # Names come from pg_class and are quoted; no user input reaches this text.
        counts[name] = await conn.fetchval(f"SELECT count(*) FROM {_qualified(name)}")  # noqa: S608
    return counts


async def fetch_sequences(conn: Any) -> dict[str, int]:
    """The schema's sequences that have been used, with their last value."""
    rows = await conn.fetch(
        "SELECT sequencename, last_value FROM pg_sequences"
        " WHERE schemaname = $1 AND last_value IS NOT NULL ORDER BY sequencename",
        SCHEMA,
    )
    return {r["sequencename"]: int(r["last_value"]) for r in rows}


async def set_sequences(conn: Any, values: dict[str, int]) -> None:
    for name, value in values.items():
        await conn.execute("SELECT setval($1::regclass, $2, true)", _qualified(name), value)


async def copy_table_out(conn: Any, table: Table, output: Any) -> int:
    """COPY the table's rows (text format) into `output` (a binary file object); the count."""
    columns = ", ".join(quote_ident(c) for c in table.columns)
    # A query rather than the table: COPY TO refuses partitioned tables.
    status: str = await conn.copy_from_query(
        f"SELECT {columns} FROM {_qualified(table.name)}",  # noqa: S608 - quoted catalog names
        output=output,
        format="text",
        timeout=COPY_TIMEOUT_S,
    )
    return int(status.split()[-1])


async def copy_table_in(conn: Any, name: str, columns: list[str], source: Any) -> int:
    status: str = await conn.copy_to_table(
        name,
        schema_name=SCHEMA,
        columns=columns,
        source=source,
        format="text",
        timeout=COPY_TIMEOUT_S,
    )
    return int(status.split()[-1])


async def truncate(conn: Any, tables: list[str]) -> None:
    """Empty these tables (the rows their migrations seeded), all in one statement."""
    if tables:
        await conn.execute(f"TRUNCATE {', '.join(_qualified(t) for t in tables)}")


async def drop_schema(conn: Any) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(SCHEMA)} CASCADE")


async def fetch_applied_migrations(conn: Any) -> list[dict[str, Any]]:
    """The schema_migrations rows (version, name, checksum), oldest first."""
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM tool_catalog.schema_migrations ORDER BY version"
    )
    return [dict(r) for r in rows]
