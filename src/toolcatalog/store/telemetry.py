"""SQL for tool_telemetry: observed executions of a pattern (duration, cost, outcome)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TelemetryWrite:
    observed_at: datetime
    tool_name: str
    capability: str
    pattern: str
    duration_ms: float
    cost: float | None
    success: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None


_COLUMNS = [f.name for f in fields(TelemetryWrite)]


async def insert_telemetry(conn: Any, rows: Sequence[TelemetryWrite]) -> None:
    if rows:
        await conn.copy_records_to_table(
            "tool_telemetry",
            schema_name="tool_catalog",
            columns=_COLUMNS,
            records=[tuple(getattr(r, c) for c in _COLUMNS) for r in rows],
        )
