"""FeedbackService: what a caller did with a selection (accepted, rejected, overridden with
another pattern), stored by selection_id and read back as labelled requests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from toolcatalog.catalog.selection_log import SelectionLog
from toolcatalog.catalog.telemetry import TelemetryService, pattern_problem
from toolcatalog.errors import InvalidDefinition, NotFound, Problem
from toolcatalog.store.database import Database
from toolcatalog.store.selections import (
    FeedbackRecord,
    LabelledRequest,
    fetch_labelled,
    fetch_selection,
    upsert_feedback,
)

Outcome = Literal["accepted", "rejected", "overridden"]
LABELLED_MAX = 10_000


def parse_selection_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(
            f"no selection {text[:80]!r}: a selection_id is the UUID a select answer carries"
        ) from None


class FeedbackService:
    def __init__(
        self,
        db: Database,
        selections: SelectionLog,
        telemetry: TelemetryService,
        *,
        ensure_recorded: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> None:
        """`ensure_recorded`: flushes a selection still queued where it was made, when that
        is another process's log (a server worker's selection process) than `selections`."""
        self._db = db
        self._selections = selections
        self._telemetry = telemetry
        self._ensure_recorded = ensure_recorded or selections.ensure_recorded

    async def record(
        self,
        selection_id: str,
        outcome: Outcome,
        tool: str | None = None,
        capability: str | None = None,
        pattern: str | None = None,
    ) -> tuple[FeedbackRecord, str]:
        """Store the verdict on a selection (the latest replaces an earlier one); returns it
        with the selection's request. accepted and rejected concern the decided pattern (the
        names may be left out; given, they must be it); overridden names the pattern used
        instead, which must be in the catalog. Raises NotFound for an unknown selection (its
        record is written within about a second of the answer), InvalidDefinition."""
        sid = parse_selection_id(selection_id)
        await self._ensure_recorded(sid)
        async with self._db.connection("selection_fetch") as conn:
            selection = await fetch_selection(conn, sid)
        if selection is None:
            raise NotFound(
                f"no selection {selection_id}: selections are recorded within about a second "
                "of their answer (retry), and kept as long as telemetry"
            )
        decided = (selection.tool_name, selection.capability, selection.pattern)
        given = (tool, capability, pattern)
        if outcome == "overridden":
            if None in given:
                raise _invalid("tool", "overridden needs the tool, capability and pattern used")
            labels = await self._telemetry.current_labels()
            problem = pattern_problem(tool or "", capability or "", pattern or "", labels)
            if problem is not None:
                raise _invalid("tool", problem)
            if given == decided:
                raise _invalid("outcome", "that is the decided pattern: send accepted")
            names = (tool or "", capability or "", pattern or "")
        else:
            if decided[0] is None:
                raise _invalid(
                    "outcome",
                    f"the selection decided nothing: only overridden applies, not {outcome}",
                )
            for field, value, want in zip(
                ("tool", "capability", "pattern"), given, decided, strict=True
            ):
                if value is not None and value != want:
                    raise _invalid(
                        field,
                        f"{outcome} concerns the decided {field} {want!r}, not {value!r}"
                        + (" (send overridden for another)" if outcome == "accepted" else ""),
                    )
            names = (decided[0] or "", decided[1] or "", decided[2] or "")
        async with self._db.transaction("selection_feedback") as conn:
            record = await upsert_feedback(conn, sid, outcome, *names)
        return record, selection.request

    async def labelled(
        self, *, since: datetime | None = None, limit: int = LABELLED_MAX
    ) -> list[LabelledRequest]:
        """The newest `limit` labelled requests since `since` (default: 90 days)."""
        since = since or datetime.now(UTC) - timedelta(days=90)
        async with self._db.connection("selection_labelled") as conn:
            return await fetch_labelled(conn, since, limit)


def _invalid(field: str, message: str) -> InvalidDefinition:
    return InvalidDefinition(message, [Problem(f"$.{field}", message)])
