"""ExperimentService: A/B experiments over the selector's configuration (tool_ab_tests): start,
report, stop and promote. The variants' configurations are validated by the door
(selection.experiments.ExperimentSpec) and stored as given; the report joins each variant's
selections with their feedback and telemetry (see experiment_stats.py for the statistics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from toolcatalog.catalog.experiment_stats import (
    ALPHA,
    mann_whitney,
    median_interval,
    two_proportions,
    wilson,
)
from toolcatalog.errors import Conflict, InvalidDefinition, NotFound, Problem
from toolcatalog.model.names import did_you_mean
from toolcatalog.store.database import Database
from toolcatalog.store.experiments import (
    ExperimentRecord,
    VariantOutcomes,
    end_experiment,
    fetch_experiment,
    fetch_promoted_experiment,
    fetch_running_experiment,
    fetch_variant_outcomes,
    insert_experiment,
)


@dataclass(frozen=True, slots=True)
class Rate:
    rate: float | None
    ci95: tuple[float, float] | None
    n: int


@dataclass(frozen=True, slots=True)
class Median:
    value_ms: float | None
    ci95: tuple[float, float] | None
    n: int


@dataclass(frozen=True, slots=True)
class VariantReport:
    name: str
    share: float
    config: dict[str, Any]
    selections: int
    feedback: int
    acceptance: Rate
    success: Rate
    median_duration: Median


@dataclass(frozen=True, slots=True)
class Difference:
    """`variant` against the control (the first variant): the difference (variant minus
    control; for durations, of the medians) and the two-sided p-value; significant at 5 %.
    p_value None: fewer than 10 observations on a side."""

    difference: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    variant: str
    control: str
    acceptance: Difference
    success: Difference
    median_duration: Difference


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    name: str
    description: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    promoted_variant: str | None
    variants: list[VariantReport]
    comparisons: list[Comparison]


def _rate(k: int, n: int) -> Rate:
    return Rate(k / n if n else None, wilson(k, n), n)


def _variant(spec: dict[str, Any], seen: VariantOutcomes | None) -> VariantReport:
    o = seen or VariantOutcomes(spec["name"], 0, 0, 0, 0, 0, [])
    median = median_interval(o.durations_ms)
    return VariantReport(
        name=spec["name"],
        share=spec["share"],
        config=spec.get("config", {}),
        selections=o.selections,
        feedback=o.feedback,
        acceptance=_rate(o.accepted, o.feedback),
        success=_rate(o.successes, o.runs),
        median_duration=Median(
            None if median is None else median[0],
            None if median is None else (median[1], median[2]),
            len(o.durations_ms),
        ),
    )


def _difference(a: float | None, b: float | None, p: float | None) -> Difference:
    diff = None if a is None or b is None else a - b
    return Difference(diff, p, p is not None and p < ALPHA)


def _compare(
    v: VariantOutcomes, c: VariantOutcomes, rv: VariantReport, rc: VariantReport
) -> Comparison:
    return Comparison(
        variant=rv.name,
        control=rc.name,
        acceptance=_difference(
            rv.acceptance.rate, rc.acceptance.rate,
            two_proportions(v.accepted, v.feedback, c.accepted, c.feedback),
        ),
        success=_difference(
            rv.success.rate, rc.success.rate,
            two_proportions(v.successes, v.runs, c.successes, c.runs),
        ),
        median_duration=_difference(
            rv.median_duration.value_ms, rc.median_duration.value_ms,
            mann_whitney(v.durations_ms, c.durations_ms),
        ),
    )  # fmt: skip


class ExperimentService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self, name: str, description: str, variants: list[dict[str, Any]]
    ) -> ExperimentRecord:
        """Start an experiment now. Raises Conflict when the name is taken or another one
        is running (one at a time: each selection is in at most one)."""
        async with self._db.transaction("experiment_start") as conn:
            running = await fetch_running_experiment(conn)
            if running is not None:
                raise Conflict(
                    f"experiment {running.name!r} is running: stop or promote it first "
                    "(one experiment runs at a time)"
                )
            if await fetch_experiment(conn, name) is not None:
                raise Conflict(f"an experiment named {name!r} exists; choose another name")
            return await insert_experiment(conn, name, description, variants)

    async def get(self, name: str) -> ExperimentRecord:
        async with self._db.connection("experiment_get") as conn:
            found = await fetch_experiment(conn, name)
        if found is None:
            raise NotFound(f"no experiment {name!r}")
        return found

    async def stop(self, name: str) -> ExperimentRecord:
        """End a running experiment without changing the selector's configuration."""
        async with self._db.transaction("experiment_stop") as conn:
            found = await self._lock(conn, name)
            if found.status != "running":
                raise Conflict(f"experiment {name!r} is {found.status}, not running")
            return await end_experiment(conn, name, "stopped", None)

    async def promote(self, name: str, variant: str) -> ExperimentRecord:
        """End the experiment (running or stopped) and make `variant`'s configuration
        everyone's (until another is promoted)."""
        async with self._db.transaction("experiment_promote") as conn:
            found = await self._lock(conn, name)
            names = [v["name"] for v in found.variants]
            if variant not in names:
                message = (
                    f"experiment {name!r} has no variant {variant!r}{did_you_mean(variant, names)}"
                )
                raise InvalidDefinition(message, [Problem("$.variant", message)])
            return await end_experiment(conn, name, "completed", variant)

    async def _lock(self, conn: Any, name: str) -> ExperimentRecord:
        found = await fetch_experiment(conn, name, for_update=True)
        if found is None:
            raise NotFound(f"no experiment {name!r}")
        return found

    async def current(self) -> tuple[ExperimentRecord | None, ExperimentRecord | None]:
        """The running experiment and the latest promoted one (for the selector)."""
        async with self._db.connection("experiment_current") as conn:
            return await fetch_running_experiment(conn), await fetch_promoted_experiment(conn)

    async def report(self, name: str) -> ExperimentReport:
        """Per variant: selections, acceptance and success rates, median duration, each with
        its 95 % interval, and each variant against the first (the control)."""
        async with self._db.snapshot_read("experiment_report") as conn:
            found = await fetch_experiment(conn, name)
            if found is None:
                raise NotFound(f"no experiment {name!r}")
            seen = await fetch_variant_outcomes(conn, name)
        empty = [VariantOutcomes(v["name"], 0, 0, 0, 0, 0, []) for v in found.variants]
        outcomes = [seen.get(v["name"], e) for v, e in zip(found.variants, empty, strict=True)]
        reports = [_variant(v, o) for v, o in zip(found.variants, outcomes, strict=True)]
        comparisons = [
            _compare(outcomes[i], outcomes[0], reports[i], reports[0])
            for i in range(1, len(reports))
        ]
        return ExperimentReport(
            name=found.name,
            description=found.description,
            status=found.status,
            started_at=found.started_at,
            ended_at=found.ended_at,
            promoted_variant=found.promoted_variant,
            variants=reports,
            comparisons=comparisons,
        )
