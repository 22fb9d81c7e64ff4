"""Operations: Prometheus `/metrics`, the seed's JSON metrics, reload and its history.

The JSON figures are read from the same Prometheus samples as `/metrics` (summed over every
worker process), so the two never disagree. Included before the tools router, whose
`/{name}` would otherwise take `metrics` and `reload` for tool names.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from toolcatalog import metrics
from toolcatalog.api.auth import AdminDep, MetricsReaderDep, ReaderDep
from toolcatalog.api.deps import RuntimeDep
from toolcatalog.api.routing import ORJSONRoute
from toolcatalog.api.schemas import READ_ERRORS, problems
from toolcatalog.metrics import Samples, histogram_quantile
from toolcatalog.runtime import Runtime

router = APIRouter(tags=["operations"], route_class=ORJSONRoute)


_PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}
}
_READ = problems(*READ_ERRORS)


def _prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


@router.get("/metrics", summary="Prometheus metrics", responses=_PROMETHEUS_TEXT | _READ)
async def prometheus_metrics(_caller: MetricsReaderDep) -> Response:
    """Open even with TOOLCATALOG_AUTH=required while TOOLCATALOG_OPEN_METRICS is true (the
    default, for scrapers: keep it off public networks); like the seed's path below."""
    return _prometheus()


@router.get(
    "/api/v1/tools/metrics/prometheus",
    summary="Prometheus metrics (the seed's path)",
    responses=_PROMETHEUS_TEXT | _READ,
)
async def prometheus_metrics_compat(_caller: MetricsReaderDep) -> Response:
    return _prometheus()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _latency(buckets: list[tuple[float, float]], total_s: float | None = None) -> dict[str, Any]:
    count = buckets[-1][1] if buckets else 0.0
    out: dict[str, Any] = {}
    if total_s is not None:
        out["avg"] = _ms(total_s / count) if count else None
    for q in (0.5, 0.95, 0.99):
        out[f"p{round(q * 100)}"] = _ms(histogram_quantile(q, buckets))
    return out


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _cache_figures(s: Samples, runtime: Runtime, cache: str) -> dict[str, Any]:
    hits = s.total("toolcatalog_cache_hits_total", cache=cache)
    misses = s.total("toolcatalog_cache_misses_total", cache=cache)
    # The snapshot is one catalog version, held until a change replaces it.
    tools = runtime.catalog.state.tools
    max_size = tools.max_size if cache == "tool" else 1
    return {
        "hits": int(hits),
        "misses": int(misses),
        "hit_rate_percent": _percent(hits, hits + misses),
        "current_size": int(s.total("toolcatalog_cache_entries", cache=cache)),
        "max_size": max_size,
        "ttl_seconds": tools.ttl_s,
        "evictions": int(s.total("toolcatalog_cache_evictions_total", cache=cache)),
    }


def _database_figures(s: Samples, runtime: Runtime) -> dict[str, Any]:
    queries = s.total("toolcatalog_db_query_duration_seconds_count")
    errors = s.total("toolcatalog_db_errors_total")
    return {
        "total_queries": int(queries),
        "errors": int(errors),
        "error_rate_percent": _percent(errors, queries),
        "duration_ms": _latency(
            s.buckets("toolcatalog_db_query_duration_seconds"),
            s.total("toolcatalog_db_query_duration_seconds_sum"),
        ),
        "active_connections": int(s.total("toolcatalog_db_pool_in_use")),
        "pool_size": int(s.total("toolcatalog_db_pool_connections")),
        "available": runtime.db.available,
        "last_error": runtime.db.last_error,
        "reconnects": int(s.total("toolcatalog_db_reconnects_total")),
    }


def _api_figures(s: Samples) -> dict[str, Any]:
    requests = errors = client_errors = 0.0
    for sample in s.matching("toolcatalog_http_requests_total"):
        requests += sample.value
        status = sample.labels.get("status", "")
        if status.startswith("5"):
            errors += sample.value
        elif status.startswith("4"):
            client_errors += sample.value
    histogram = "toolcatalog_http_request_duration_seconds"
    counts = s.totals_by(histogram + "_count", "route")
    buckets = s.buckets_by(histogram, "route")
    routes = {
        route: {"requests": int(counts[route]), "duration_ms": _latency(buckets.get(route, []))}
        for route in sorted(counts)
    }
    return {
        "requests": int(requests),
        "errors": int(errors),
        "client_errors": int(client_errors),
        "error_rate_percent": _percent(errors, requests),
        "duration_ms": _latency(s.buckets("toolcatalog_http_request_duration_seconds")),
        "routes": routes,
    }


def _loading_figures(s: Samples) -> dict[str, Any]:
    return {
        "catalog_loads": int(s.total("toolcatalog_catalog_load_duration_seconds_count")),
        "duration_ms": _latency(
            s.buckets("toolcatalog_catalog_load_duration_seconds"),
            s.total("toolcatalog_catalog_load_duration_seconds_sum"),
        ),
        "generation": int(s.total("toolcatalog_catalog_generation")),
        "tools_by_status": {
            status: int(s.total("toolcatalog_tools", status=status))
            for status in sorted(s.label_values("toolcatalog_tools", "status"))
        },
        "notify_messages": int(s.total("toolcatalog_notify_messages_total")),
        "listener_connected": bool(s.total("toolcatalog_listener_connected")),
        "listener_reconnects": int(s.total("toolcatalog_listener_reconnects_total")),
    }


def _reload_figures(s: Samples, runtime: Runtime) -> dict[str, Any]:
    history = list(runtime.catalog.reloads)
    return {
        "total": int(s.total("toolcatalog_reloads_total")),
        "errors": int(s.total("toolcatalog_reload_errors_total")),
        "duration_ms": _latency(
            s.buckets("toolcatalog_reload_duration_seconds"),
            s.total("toolcatalog_reload_duration_seconds_sum"),
        ),
        "last": history[-1] if history else None,
    }


@router.get(
    "/api/v1/tools/metrics", summary="Service metrics as JSON (the seed's shape)", responses=_READ
)
async def json_metrics(runtime: RuntimeDep, _caller: ReaderDep) -> dict[str, Any]:
    s = Samples.collect()
    return {
        "system": {
            "uptime_seconds": round((datetime.now(UTC) - runtime.started_at).total_seconds(), 3),
            "start_time": runtime.started_at.isoformat(),
            "version": runtime.version,
            "instance_id": runtime.instance_id,
            "pid": os.getpid(),
        },
        "cache": _cache_figures(s, runtime, "tool"),
        "snapshot_cache": _cache_figures(s, runtime, "snapshot"),
        "database": _database_figures(s, runtime),
        "api": _api_figures(s),
        "loading": _loading_figures(s),
        "reload": _reload_figures(s, runtime),
    }


@router.get(
    "/api/v1/tools/performance/stats",
    summary="Cache, database and latency figures",
    responses=_READ,
)
async def performance_stats(runtime: RuntimeDep, _caller: ReaderDep) -> dict[str, Any]:
    return performance_figures(runtime)


def performance_figures(runtime: Runtime) -> dict[str, Any]:
    """Cache, database and latency figures (also the seed's performance stats)."""
    s = Samples.collect()
    api = _api_figures(s)
    return {
        "cache": _cache_figures(s, runtime, "tool"),
        "snapshot_cache": _cache_figures(s, runtime, "snapshot"),
        "database": _database_figures(s, runtime),
        "requests": {"total": api["requests"], "duration_ms": api["duration_ms"]},
        "routes": api["routes"],
    }


@router.post(
    "/api/v1/tools/reload",
    summary="Invalidate every replica's caches and reload the catalog (admin)",
    responses=problems(401, 403, 413, 415, 503),
)
async def reload_catalog(runtime: RuntimeDep, caller: AdminDep) -> dict[str, Any]:
    """Sends one change notice that every replica (and every worker) applies within about a
    second; this replica reloads its snapshot before answering. 503 if the database is away."""
    start = time.perf_counter()
    generation = await runtime.catalog.reload_all(trigger="api", actor=caller.actor)
    last = runtime.catalog.reloads[-1] if runtime.catalog.reloads else {}
    return {
        "success": True,
        "trigger": "api",
        "triggered_by": caller.name,
        "timestamp": last.get("started_at"),
        "generation": generation,
        "tools": last.get("tools"),
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
        "error_message": None,
    }


@router.get(
    "/api/v1/tools/reload/history", summary="Recent reloads of this process", responses=_READ
)
async def reload_history(
    runtime: RuntimeDep,
    _caller: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    entries = list(runtime.catalog.reloads)[-limit:]
    entries.reverse()  # newest first
    return {"history": entries, "total": len(runtime.catalog.reloads)}


@router.get(
    "/api/v1/tools/reload/statistics", summary="Reload counts and durations", responses=_READ
)
async def reload_statistics(runtime: RuntimeDep, _caller: ReaderDep) -> dict[str, Any]:
    s = Samples.collect()
    total = int(s.total("toolcatalog_reloads_total"))
    failed = int(s.total("toolcatalog_reload_errors_total"))
    duration_s = s.total("toolcatalog_reload_duration_seconds_sum")
    history = list(runtime.catalog.reloads)
    return {
        "total_reloads": total,
        "successful_reloads": total - failed,
        "failed_reloads": failed,
        "success_rate": _percent(total - failed, total),
        "average_duration_ms": _ms(duration_s / total) if total else None,
        "by_trigger": {
            trigger: int(s.total("toolcatalog_reloads_total", trigger=trigger))
            for trigger in sorted(s.label_values("toolcatalog_reloads_total", "trigger"))
        },
        "last_reload": history[-1] if history else None,
        "configuration": {"max_history_size": runtime.catalog.reloads.maxlen},
    }
