"""The catalog's change log (migration 0010): each committed change is one row of
`catalog_changes`, and the generation a snapshot reads counts the changes visible in it.
Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Published:
    """A change recorded in the caller's transaction: `id`, its row in the log (its notice
    names it); `generation`, a lower bound of the generation of every snapshot that sees it
    (concurrent writes may be told the same one); `xid`, the transaction's id, for
    `Position.sees`."""

    id: int
    generation: int
    xid: int


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """A row of the change log."""

    id: int
    xid: int
    origin: str
    names: tuple[str, ...]
    everything: bool


@dataclass(frozen=True, slots=True)
class Position:
    """Where a snapshot read stands: its generation (exactly the changes visible in it) and
    the snapshot itself (pg_current_snapshot: xmin, xmax and the transactions running)."""

    generation: int
    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, generation: int, snapshot: str) -> Position:
        """From pg_current_snapshot()'s text form, `xmin:xmax:xip,xip,...`."""
        xmin, xmax, running = snapshot.split(":")
        return cls(
            generation, int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x)
        )

    def sees(self, xid: int) -> bool:
        """Whether the snapshot sees the work of transaction `xid`, given that it committed
        (pg_visible_in_snapshot's rule): it ended before the snapshot was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.running)


async def publish_change(
    conn: Any, origin: str, names: Sequence[str], *, everything: bool = False
) -> Published:
    """Record a change of the caller's transaction (by replica `origin`: the tools `names`, or
    `everything`); it counts once the transaction commits. Takes no lock another writer waits
    for, and sends no notice: the caller does, after its commit (migration 0010 says why)."""
    row = await conn.fetchrow(
        "SELECT * FROM publish_catalog_change($1, $2, $3)", origin, list(names), everything
    )
    return Published(int(row["id"]), int(row["generation"]), int(row["xid"]))


async def fetch_changes_after(conn: Any, followed: Position) -> tuple[Position, list[LoggedChange]]:
    """In one statement (one snapshot, one round trip, no transaction held open between two):
    where a snapshot stands now, and the logged changes a snapshot at `followed` may not have
    seen (those of transactions from its xmin on), oldest first (by id)."""
    row = await conn.fetchrow(
        "SELECT catalog_generation() AS generation, pg_current_snapshot()::text AS snapshot, "
        "(SELECT jsonb_agg(jsonb_build_array(c.id, c.xid::text::bigint, c.origin, c.names, "
        "c.everything) ORDER BY c.id) FROM catalog_changes AS c "
        "WHERE c.xid >= $1::text::xid8) AS changes",
        str(followed.xmin),
    )
    changes = [
        LoggedChange(int(i), int(x), str(o), tuple(n), bool(e))
        for i, x, o, n, e in row["changes"] or ()
    ]
    return Position.parse(int(row["generation"]), row["snapshot"]), changes


async def fetch_generation(conn: Any) -> int:
    """The number of changes visible to the caller's snapshot."""
    return int(await conn.fetchval("SELECT catalog_generation()"))


async def fetch_position(conn: Any) -> Position:
    """The generation and snapshot of the caller's REPEATABLE READ transaction (call it
    there: in READ COMMITTED each statement has a snapshot of its own)."""
    row = await conn.fetchrow(
        "SELECT catalog_generation() AS generation, pg_current_snapshot()::text AS snapshot"
    )
    return Position.parse(int(row["generation"]), row["snapshot"])


async def advance_generation(conn: Any, at_least: int) -> None:
    """Raise the generation to `at_least` if it is lower (a restore, whose database starts
    counting again, must not go back on what replicas saw)."""
    await conn.execute(
        "UPDATE catalog_state SET generation = generation + ($1 - catalog_generation()) "
        "WHERE catalog_generation() < $1",
        at_least,
    )


async def fetch_generation_of_any_schema(conn: Any) -> int:
    """The generation of the schema there is, whatever its migration (0 for none): before
    migration 0010 it is catalog_state's count alone."""
    if await conn.fetchval("SELECT to_regprocedure('tool_catalog.catalog_generation()')"):
        return int(await conn.fetchval("SELECT tool_catalog.catalog_generation()"))
    if await conn.fetchval("SELECT to_regclass('tool_catalog.catalog_state')"):
        return int(await conn.fetchval("SELECT generation FROM tool_catalog.catalog_state"))
    return 0
