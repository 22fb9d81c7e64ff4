"""SQL for tool_import_rows (migration 0011): an import's new tools rows staged over a second
connection, each batch committed on its own, then moved into `tools` inside the import's
transaction. The staging connection parses and compresses the documents while the import's
backend writes other rows; the move copies the stored datums as they are."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from toolcatalog.errors import StoreUnavailable
from toolcatalog.store.tools import TOOL_COLUMNS, ToolWrite, new_ids, tool_values

_COLUMNS = ", ".join(TOOL_COLUMNS)

# A batch older than this was staged by an import that never ended (its process was killed):
# no import runs for a day, and one that did would find its batch gone and be refused whole.
_STALE = "1 day"


async def stage_tool_rows(conn: Any, writes: Sequence[ToolWrite]) -> tuple[str, dict[str, int]]:
    """COPY new tools' rows, ids drawn from `tools`' identity, as a batch on `conn` (outside
    the import's transaction: each statement commits on its own); returns the batch and
    name -> id."""
    batch = str(uuid.uuid4())
    names = [w.tool.name for w in writes]
    ids = dict(zip(names, await new_ids(conn, "tools", len(writes)), strict=True))
    await conn.copy_records_to_table(
        "tool_import_rows",
        schema_name="tool_catalog",
        columns=["batch", *TOOL_COLUMNS],
        records=[(batch, ids[w.tool.name], *tool_values(w)) for w in writes],
    )
    return batch, ids


async def move_staged_tool_rows(conn: Any, batch: str, count: int) -> None:
    """Insert the rows of `batch` into `tools` in the caller's transaction, where `tools`'
    constraints check them as they would a COPY's; `count`: the rows the batch was staged
    with (a batch deleted under the import refuses it rather than leave tools out)."""
    status = await conn.execute(
        f"INSERT INTO tools ({_COLUMNS}) OVERRIDING SYSTEM VALUE "  # noqa: S608 - constant
        f"SELECT {_COLUMNS} FROM tool_import_rows WHERE batch = $1",
        batch,
    )
    moved = int(status.rsplit(" ", 1)[-1])
    if moved != count:
        raise StoreUnavailable(
            f"an import's staged tools rows went missing ({moved} of {count} found); "
            "nothing was written, import again"
        )


async def delete_staged_tool_rows(conn: Any, batches: Sequence[str]) -> None:
    await conn.execute("DELETE FROM tool_import_rows WHERE batch = ANY($1::uuid[])", list(batches))


async def delete_stale_tool_rows(conn: Any) -> None:
    """Delete the batches of imports that never ended (a seq scan of a table that holds a
    running import's batch or two)."""
    await conn.execute(
        f"DELETE FROM tool_import_rows WHERE staged_at < now() - interval '{_STALE}'"  # noqa: S608
    )
