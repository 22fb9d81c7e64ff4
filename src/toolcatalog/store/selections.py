"""SQL for tool_selections (every selector answer, by selection_id) and
tool_selection_feedback (what the caller did with it)."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SelectionRecord:
    """One selector answer as recorded: the request, the decision (all None when there was
    none), the catalog generation and, under an experiment, its variant and the subject
    (session id or API key name) the assignment stuck to."""

    selection_id: uuid.UUID
    selected_at: datetime
    request: str
    tool_name: str | None
    capability: str | None
    pattern: str | None
    catalog_version: int
    experiment: str | None = None
    variant: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    selection_id: uuid.UUID
    outcome: str
    tool_name: str
    capability: str
    pattern: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LabelledRequest:
    """A selection's request with the feedback on it: `tool` is what the caller used (the
    decided tool when accepted, theirs when overridden), or the refused one when rejected."""

    selection_id: uuid.UUID
    request: str
    outcome: str
    tool_name: str
    capability: str
    pattern: str
    decided_tool: str | None
    created_at: datetime


_COLUMNS = [f.name for f in fields(SelectionRecord)]
_values = operator.attrgetter(*_COLUMNS)
_FETCH_SELECTION_SQL = f"SELECT {', '.join(_COLUMNS)} FROM tool_selections WHERE selection_id = $1"  # noqa: S608
_UPSERT_FEEDBACK_SQL = (
    "INSERT INTO tool_selection_feedback (selection_id, outcome, tool_name, capability, pattern) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (selection_id) DO UPDATE SET "
    "outcome = EXCLUDED.outcome, tool_name = EXCLUDED.tool_name, "
    "capability = EXCLUDED.capability, pattern = EXCLUDED.pattern, created_at = now() "
    "RETURNING selection_id, outcome, tool_name, capability, pattern, created_at"
)
_LABELLED_SQL = (
    "SELECT selection_id, s.request, f.outcome, f.tool_name, f.capability, f.pattern, "
    "s.tool_name AS decided_tool, f.created_at "
    "FROM tool_selection_feedback f JOIN tool_selections s USING (selection_id) "
    "WHERE f.created_at >= $1 ORDER BY f.created_at DESC, f.selection_id LIMIT $2"
)
_PRUNE_SQL = "DELETE FROM tool_selections WHERE selected_at < $1"


def row_to_selection(row: Any) -> SelectionRecord:
    return SelectionRecord(**{c: row[c] for c in _COLUMNS})


async def insert_selections(conn: Any, rows: Sequence[SelectionRecord]) -> None:
    """COPY a batch of selections: one statement, so all or nothing even without a
    transaction of the caller's (a flush is then one round trip, not three)."""
    if rows:
        await conn.copy_records_to_table(
            "tool_selections",
            schema_name="tool_catalog",
            columns=_COLUMNS,
            records=[_values(r) for r in rows],
        )


async def fetch_selection(conn: Any, selection_id: uuid.UUID) -> SelectionRecord | None:
    row = await conn.fetchrow(_FETCH_SELECTION_SQL, selection_id)
    return None if row is None else row_to_selection(row)


async def upsert_feedback(
    conn: Any,
    selection_id: uuid.UUID,
    outcome: str,
    tool_name: str,
    capability: str,
    pattern: str,
) -> FeedbackRecord:
    row = await conn.fetchrow(
        _UPSERT_FEEDBACK_SQL, selection_id, outcome, tool_name, capability, pattern
    )
    return FeedbackRecord(**dict(row))


async def fetch_labelled(conn: Any, since: datetime, limit: int) -> list[LabelledRequest]:
    """The newest `limit` feedback rows since `since` with their selections' requests."""
    rows = await conn.fetch(_LABELLED_SQL, since, limit)
    return [LabelledRequest(**dict(r)) for r in rows]


async def delete_selections_before(conn: Any, before: datetime) -> int:
    """Retention: selections (and their feedback, by cascade) older than `before`."""
    status: str = await conn.execute(_PRUNE_SQL, before)
    return int(status.rsplit(" ", 1)[-1])
