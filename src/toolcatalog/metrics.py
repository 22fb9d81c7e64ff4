"""Every Prometheus metric of toolcatalog, in one place. Prefix `toolcatalog_`; labels are
route templates and small enums only (never raw paths or tool names).

The metrics live in their own registry (`REGISTRY`), so `/metrics` exports only ours. With
several worker processes, PROMETHEUS_MULTIPROC_DIR is set by `serve` before this module is
imported; prometheus_client then keeps values in shared files and `collect()` merges every
worker's. The JSON figures of `/api/v1/tools/metrics` are read from the same samples.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

REGISTRY = CollectorRegistry()

# Latency buckets in seconds, dense below 50 ms: a cached read is answered in ~0.1-0.5 ms.
_FAST = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

HTTP_REQUESTS = Counter(
    "toolcatalog_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "toolcatalog_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=_FAST,
    registry=REGISTRY,
)
CACHE_HITS = Counter(
    "toolcatalog_cache_hits_total",
    "Reads answered from the in-process cache.",
    ["cache"],
    registry=REGISTRY,
)
CACHE_MISSES = Counter(
    "toolcatalog_cache_misses_total",
    "Reads that had to go to the database.",
    ["cache"],
    registry=REGISTRY,
)
CACHE_EVICTIONS = Counter(
    "toolcatalog_cache_evictions_total",
    "Entries dropped by size, age or invalidation.",
    ["cache", "reason"],
    registry=REGISTRY,
)
CACHE_SIZE = Gauge(
    "toolcatalog_cache_entries",
    "Entries currently held in the cache.",
    ["cache"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_QUERY_DURATION = Histogram(
    "toolcatalog_db_query_duration_seconds",
    "Database work per store operation.",
    ["operation"],
    buckets=_FAST,
    registry=REGISTRY,
)
DB_ERRORS = Counter(
    "toolcatalog_db_errors_total",
    "Store operations that failed, by operation and kind.",
    ["operation", "kind"],
    registry=REGISTRY,
)
DB_POOL_SIZE = Gauge(
    "toolcatalog_db_pool_connections",
    "Connections open in the pool.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "toolcatalog_db_pool_in_use",
    "Pool connections currently checked out.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_UP = Gauge(
    "toolcatalog_database_up",
    "1 while the database answers, 0 while it is unreachable.",
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
TOOLS = Gauge(
    "toolcatalog_tools",
    "Tools in the catalog by status (as of the last snapshot).",
    ["status"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
STORED_TOOLS_INVALID = Gauge(
    "toolcatalog_stored_tools_invalid",
    "Stored tools left out of the catalog because their definition no longer validates.",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
CATALOG_GENERATION = Gauge(
    "toolcatalog_catalog_generation",
    "Catalog generation of the last snapshot (bumped by every write).",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
RELOADS = Counter(
    "toolcatalog_reloads_total",
    "Catalog reloads, by what triggered them.",
    ["trigger"],
    registry=REGISTRY,
)
RELOAD_ERRORS = Counter(
    "toolcatalog_reload_errors_total", "Catalog reloads that failed.", registry=REGISTRY
)
RELOAD_DURATION = Histogram(
    "toolcatalog_reload_duration_seconds",
    "Time to reload the catalog snapshot.",
    buckets=_FAST,
    registry=REGISTRY,
)
CATALOG_LOAD_DURATION = Histogram(
    "toolcatalog_catalog_load_duration_seconds",
    "Time to read the whole catalog from the database into a snapshot.",
    buckets=_FAST,
    registry=REGISTRY,
)
NOTIFY_MESSAGES = Counter(
    "toolcatalog_notify_messages_total",
    "Change notifications received from other replicas, by kind.",
    ["kind"],
    registry=REGISTRY,
)
LISTENER_CONNECTED = Gauge(
    "toolcatalog_listener_connected",
    "1 while the LISTEN connection for change notifications is up.",
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
SELECTION_DURATION = Histogram(
    "toolcatalog_selection_duration_seconds",
    "Time to rank candidates for one selection request.",
    buckets=_FAST,
    registry=REGISTRY,
)
SELECTION_DECISIONS = Counter(
    "toolcatalog_selection_decisions_total",
    "Selection outcomes, by the method that decided (deterministic, llm, none).",
    ["method"],
    registry=REGISTRY,
)
SELECTION_REMEMBERED = Counter(
    "toolcatalog_selection_remembered_total",
    "Selects answered from a remembered answer to the same request (selection/remembered.py).",
    registry=REGISTRY,
)
SELECTION_TIE_BREAKS = Counter(
    "toolcatalog_selection_tie_breaks_total",
    "Ties sent to the LLM, by outcome (picked, invalid, timeout, error, skipped).",
    ["outcome"],
    registry=REGISTRY,
)
SELECTION_PROCESS_UP = Gauge(
    "toolcatalog_selection_process_up",
    "1 while the worker's selection process answers selects (TOOLCATALOG_SELECT_PROCESS).",
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
SELECTION_PROCESS_RESTARTS = Counter(
    "toolcatalog_selection_process_restarts_total",
    "Times the worker's selection process ended unasked and was started again.",
    registry=REGISTRY,
)
SELECTIONS_RECORDED = Counter(
    "toolcatalog_selections_recorded_total",
    "Selections written to tool_selections (in batches, off the request path).",
    registry=REGISTRY,
)
SELECTIONS_DROPPED = Counter(
    "toolcatalog_selections_dropped_total",
    "Selections not recorded because the in-memory queue was full (database unreachable).",
    registry=REGISTRY,
)
LLM_BREAKER_OPEN = Gauge(
    "toolcatalog_llm_breaker_open",
    "1 while the LLM tie-break's circuit breaker is open (the LLM is skipped), else 0.",
    multiprocess_mode="max",
    registry=REGISTRY,
)
DB_RECONNECTS = Counter(
    "toolcatalog_db_reconnects_total",
    "Times the database answered again after an outage (each one invalidates the caches).",
    registry=REGISTRY,
)
LISTENER_RECONNECTS = Counter(
    "toolcatalog_listener_reconnects_total",
    "Times the LISTEN connection came back after a drop (each one invalidates the caches).",
    registry=REGISTRY,
)
STALE_SERVED = Counter(
    "toolcatalog_cache_stale_served_total",
    "Reads answered from an expired cache entry because the database was unreachable.",
    registry=REGISTRY,
)
TELEMETRY_EVENTS = Counter(
    "toolcatalog_telemetry_events_total",
    "Outcome events reported through POST /api/v1/telemetry, by result (accepted, rejected).",
    ["result"],
    registry=REGISTRY,
)
TELEMETRY_PATTERNS_SLOW = Gauge(
    "toolcatalog_telemetry_patterns_slow",
    "Patterns whose observed p95 duration over the last hour is more than 3x their declared "
    "time estimate (with at least TOOLCATALOG_TELEMETRY_MIN_SAMPLES events).",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
TELEMETRY_WORST_P95_RATIO = Gauge(
    "toolcatalog_telemetry_worst_p95_ratio",
    "Largest observed p95 / declared time estimate of any pattern over the last hour "
    "(0 without enough events).",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
# A gauge rather than an Info: Info does not work in prometheus_client's multiprocess mode.
BUILD_INFO = Gauge(
    "toolcatalog_build_info",
    "Always 1; the labels carry the version of toolcatalog and Python.",
    ["version", "python"],
    multiprocess_mode="max",
    registry=REGISTRY,
)

# The series of small fixed label sets exist from the start, at 0: rates and alert rules over
# them then return data before the first event (a tie-break may not happen for days).
for _method in ("deterministic", "llm", "none"):
    SELECTION_DECISIONS.labels(_method)
for _outcome in ("picked", "invalid", "timeout", "error", "skipped"):
    SELECTION_TIE_BREAKS.labels(_outcome)
for _trigger in ("api", "cli"):
    RELOADS.labels(_trigger)
for _kind in ("tools", "all", "missed"):
    NOTIFY_MESSAGES.labels(_kind)
for _result in ("accepted", "rejected"):
    TELEMETRY_EVENTS.labels(_result)


def record_build_info(version: str) -> None:
    BUILD_INFO.labels(version=version, python=platform.python_version()).set(1)


# HTTP methods we label by name; anything else a client invents is counted as OTHER.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _collecting_registry() -> CollectorRegistry:
    # Read when collecting, not at import; `serve --workers` sets it before workers start.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged, folder)  # type: ignore[no-untyped-call]
    return merged


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of every toolcatalog metric (of every worker process
    in multiprocess mode) and its content type."""
    return generate_latest(_collecting_registry()), CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class Samples:
    """One collection of every sample, queried by sample name and labels; what the JSON
    metrics endpoint reports, so that it agrees with `/metrics` by construction. Indexed by
    name once: a figure reads its own samples, not all of them (the seed's performance stats
    ask for ~40 figures of ~500 samples)."""

    samples: tuple[Sample, ...]
    by_name: dict[str, list[Sample]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[Sample]] = {}
        for sample in self.samples:
            by_name.setdefault(sample.name, []).append(sample)
        object.__setattr__(self, "by_name", by_name)

    @classmethod
    def collect(cls) -> Samples:
        return cls(tuple(s for family in _collecting_registry().collect() for s in family.samples))

    def matching(self, name: str, **labels: str) -> Iterable[Sample]:
        for sample in self.by_name.get(name, ()):
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                yield sample

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        return sum(s.value for s in self.matching(name, **labels))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.matching(name) if label in s.labels}

    def buckets(self, histogram: str, **labels: str) -> list[tuple[float, float]]:
        """Cumulative (upper bound, count) of a histogram, summed over the other labels."""
        merged: dict[float, float] = {}
        for sample in self.matching(histogram + "_bucket", **labels):
            bound = float(sample.labels["le"])
            merged[bound] = merged.get(bound, 0.0) + sample.value
        return sorted(merged.items())

    def totals_by(self, name: str, label: str) -> dict[str, float]:
        """`total(name, label=value)` for every value of `label`, in one pass."""
        out: dict[str, float] = {}
        for sample in self.by_name.get(name, ()):
            value = sample.labels.get(label)
            if value is not None:
                out[value] = out.get(value, 0.0) + sample.value
        return out

    def buckets_by(self, histogram: str, label: str) -> dict[str, list[tuple[float, float]]]:
        """`buckets(histogram, label=value)` for every value of `label`, in one pass."""
        merged: dict[str, dict[float, float]] = {}
        for sample in self.by_name.get(histogram + "_bucket", ()):
            value = sample.labels.get(label)
            if value is not None:
                into = merged.setdefault(value, {})
                bound = float(sample.labels["le"])
                into[bound] = into.get(bound, 0.0) + sample.value
        return {value: sorted(bounds.items()) for value, bounds in merged.items()}


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile(): linear interpolation inside the bucket holding the
    q-th observation. None without observations; the largest finite bound if it falls in +Inf."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
