"""Every Prometheus metric of toolcatalog, in one place. Prefix `toolcatalog_`; labels are
route templates and small enums only (never raw paths or tool names).

With several worker processes, PROMETHEUS_MULTIPROC_DIR is set by `serve` before this module
is imported, and prometheus_client keeps values in shared files.
"""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets in seconds, dense below 50 ms where cached reads live.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "toolcatalog_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "toolcatalog_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=_FAST,
)
CACHE_HITS = Counter(
    "toolcatalog_cache_hits_total", "Reads answered from the in-process cache.", ["cache"]
)
CACHE_MISSES = Counter(
    "toolcatalog_cache_misses_total", "Reads that had to go to the database.", ["cache"]
)
CACHE_EVICTIONS = Counter(
    "toolcatalog_cache_evictions_total",
    "Entries dropped by size, age or invalidation.",
    ["cache", "reason"],
)
CACHE_SIZE = Gauge(
    "toolcatalog_cache_entries",
    "Entries currently held in the cache.",
    ["cache"],
    multiprocess_mode="livesum",
)
DB_QUERY_DURATION = Histogram(
    "toolcatalog_db_query_duration_seconds",
    "Database work per store operation.",
    ["operation"],
    buckets=_FAST,
)
DB_ERRORS = Counter(
    "toolcatalog_db_errors_total",
    "Store operations that failed, by operation and kind.",
    ["operation", "kind"],
)
DB_POOL_SIZE = Gauge(
    "toolcatalog_db_pool_connections",
    "Connections open in the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "toolcatalog_db_pool_in_use",
    "Pool connections currently checked out.",
    multiprocess_mode="livesum",
)
DB_UP = Gauge(
    "toolcatalog_database_up",
    "1 while the database answers, 0 while it is unreachable.",
    multiprocess_mode="livemin",
)
TOOLS = Gauge(
    "toolcatalog_tools",
    "Tools in the catalog by status (as of the last snapshot).",
    ["status"],
    multiprocess_mode="livemax",
)
CATALOG_GENERATION = Gauge(
    "toolcatalog_catalog_generation",
    "Catalog generation of the last snapshot (bumped by every write).",
    multiprocess_mode="livemax",
)
RELOADS = Counter(
    "toolcatalog_reloads_total", "Catalog reloads, by what triggered them.", ["trigger"]
)
RELOAD_ERRORS = Counter("toolcatalog_reload_errors_total", "Catalog reloads that failed.")
RELOAD_DURATION = Histogram(
    "toolcatalog_reload_duration_seconds", "Time to reload the catalog snapshot.", buckets=_FAST
)
CATALOG_LOAD_DURATION = Histogram(
    "toolcatalog_catalog_load_duration_seconds",
    "Time to read the whole catalog from the database into a snapshot.",
    buckets=_FAST,
)
NOTIFY_MESSAGES = Counter(
    "toolcatalog_notify_messages_total",
    "Change notifications received from other replicas, by kind.",
    ["kind"],
)
LISTENER_CONNECTED = Gauge(
    "toolcatalog_listener_connected",
    "1 while the LISTEN connection for change notifications is up.",
    multiprocess_mode="livemin",
)
SELECTION_DURATION = Histogram(
    "toolcatalog_selection_duration_seconds",
    "Time to rank candidates for one selection request.",
    buckets=_FAST,
)
SELECTION_DECISIONS = Counter(
    "toolcatalog_selection_decisions_total",
    "Selection outcomes, by the method that decided (deterministic, llm, none).",
    ["method"],
)
SELECTION_TIE_BREAKS = Counter(
    "toolcatalog_selection_tie_breaks_total",
    "Ties sent to the LLM, by outcome (picked, invalid, timeout, error).",
    ["outcome"],
)
# A gauge rather than an Info: Info does not work in prometheus_client's multiprocess mode.
BUILD_INFO = Gauge(
    "toolcatalog_build_info",
    "Always 1; the labels carry the version of toolcatalog and Python.",
    ["version", "python"],
    multiprocess_mode="max",
)


def record_build_info(version: str) -> None:
    BUILD_INFO.labels(version=version, python=platform.python_version()).set(1)
