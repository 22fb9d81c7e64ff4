"""SQL for experiments (tool_ab_tests) and what their selections led to (tool_selections,
tool_selection_feedback, tool_telemetry by selection_id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    name: str
    description: str
    status: str  # running | stopped | completed (draft is not used)
    variants: list[dict[str, Any]]  # [{name, share, config}]
    started_at: datetime | None
    ended_at: datetime | None
    promoted_variant: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VariantOutcomes:
    """What one variant's selections led to."""

    variant: str
    selections: int
    feedback: int
    accepted: int
    runs: int  # telemetry events naming one of its selections
    successes: int
    durations_ms: list[float]  # sorted


_COLUMNS = "name, description, status, variants, started_at, ended_at, promoted_variant, created_at"
_INSERT_SQL = (
    "INSERT INTO tool_ab_tests (name, description, status, variants, traffic, started_at) "  # noqa: S608
    f"VALUES ($1, $2, 'running', $3, $4, now()) RETURNING {_COLUMNS}"
)
_FETCH_SQL = f"SELECT {_COLUMNS} FROM tool_ab_tests WHERE name = $1"  # noqa: S608
_LOCK_SQL = f"SELECT {_COLUMNS} FROM tool_ab_tests WHERE name = $1 FOR UPDATE"  # noqa: S608
_RUNNING_SQL = (
    f"SELECT {_COLUMNS} FROM tool_ab_tests WHERE status = 'running' "  # noqa: S608
    "ORDER BY started_at DESC, name LIMIT 1"
)
_PROMOTED_SQL = (
    f"SELECT {_COLUMNS} FROM tool_ab_tests WHERE promoted_variant IS NOT NULL "  # noqa: S608
    "ORDER BY ended_at DESC, name LIMIT 1"
)
_END_SQL = (
    "UPDATE tool_ab_tests SET status = $2, promoted_variant = $3, "  # noqa: S608
    f"ended_at = coalesce(ended_at, now()) WHERE name = $1 RETURNING {_COLUMNS}"
)
_SELECTIONS_SQL = (
    "SELECT s.variant, count(*) AS selections, count(f.selection_id) AS feedback, "
    "count(*) FILTER (WHERE f.outcome = 'accepted') AS accepted "
    "FROM tool_selections s LEFT JOIN tool_selection_feedback f USING (selection_id) "
    "WHERE s.experiment = $1 GROUP BY s.variant"
)
_RUNS_SQL = (
    "SELECT s.variant, count(*) AS runs, count(*) FILTER (WHERE t.success) AS successes, "
    "array_agg(t.duration_ms ORDER BY t.duration_ms) AS durations "
    "FROM tool_selections s JOIN tool_telemetry t ON t.selection_id = s.selection_id::text "
    "WHERE s.experiment = $1 GROUP BY s.variant"
)


def row_to_experiment(row: Any) -> ExperimentRecord:
    return ExperimentRecord(
        name=row["name"],
        description=row["description"],
        status=row["status"],
        variants=list(row["variants"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        promoted_variant=row["promoted_variant"],
        created_at=row["created_at"],
    )


async def insert_experiment(
    conn: Any, name: str, description: str, variants: list[dict[str, Any]]
) -> ExperimentRecord:
    split = {v["name"]: v["share"] for v in variants}
    row = await conn.fetchrow(_INSERT_SQL, name, description, variants, split)
    return row_to_experiment(row)


async def fetch_experiment(
    conn: Any, name: str, *, for_update: bool = False
) -> ExperimentRecord | None:
    row = await conn.fetchrow(_LOCK_SQL if for_update else _FETCH_SQL, name)
    return None if row is None else row_to_experiment(row)


async def fetch_running_experiment(conn: Any) -> ExperimentRecord | None:
    row = await conn.fetchrow(_RUNNING_SQL)
    return None if row is None else row_to_experiment(row)


async def fetch_promoted_experiment(conn: Any) -> ExperimentRecord | None:
    row = await conn.fetchrow(_PROMOTED_SQL)
    return None if row is None else row_to_experiment(row)


async def end_experiment(
    conn: Any, name: str, status: str, promoted: str | None
) -> ExperimentRecord:
    row = await conn.fetchrow(_END_SQL, name, status, promoted)
    return row_to_experiment(row)


async def fetch_variant_outcomes(conn: Any, name: str) -> dict[str, VariantOutcomes]:
    """Per variant: selections, feedback, acceptances, and the telemetry of its runs."""
    runs = {r["variant"]: r for r in await conn.fetch(_RUNS_SQL, name)}
    out = {}
    for r in await conn.fetch(_SELECTIONS_SQL, name):
        run = runs.get(r["variant"])
        out[r["variant"]] = VariantOutcomes(
            variant=r["variant"],
            selections=r["selections"],
            feedback=r["feedback"],
            accepted=r["accepted"],
            runs=0 if run is None else run["runs"],
            successes=0 if run is None else run["successes"],
            durations_ms=[] if run is None else list(run["durations"]),
        )
    return out
