"""Operations routes through the real ASGI app: Prometheus and JSON metrics after known
traffic, reload (admin) with its history and statistics, and the fast path of cached reads
answering exactly like the route it stands in for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from builders import make_tool
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import Role
from toolcatalog.config import Settings
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store.database import Database

TOOL_URL = "/api/v1/tools/alpha_tool"


@pytest.fixture
async def runtime(settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, db=db, migrate=False) as opened:
        await opened.catalog.create_tool(make_tool("alpha_tool"))
        opened.catalog.invalidate_all()
        yield opened


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(runtime) as c:
        yield c


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def delta(
    before: dict[tuple[str, frozenset[Any]], float],
    after: dict[tuple[str, frozenset[Any]], float],
    name: str,
    **labels: str,
) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_are_prometheus_text_with_only_toolcatalog_names(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert names
    assert all(name.startswith("toolcatalog_") for name in names)
    for expected in (
        "toolcatalog_http_requests",
        "toolcatalog_http_request_duration_seconds",
        "toolcatalog_cache_hits",
        "toolcatalog_cache_misses",
        "toolcatalog_cache_evictions",
        "toolcatalog_cache_entries",
        "toolcatalog_db_query_duration_seconds",
        "toolcatalog_db_pool_connections",
        "toolcatalog_db_pool_in_use",
        "toolcatalog_reloads",
        "toolcatalog_notify_messages",
        "toolcatalog_catalog_load_duration_seconds",
        "toolcatalog_build_info",
    ):
        assert expected in names, expected
    compat = await client.get("/api/v1/tools/metrics/prometheus")
    assert compat.status_code == 200
    assert "toolcatalog_build_info" in compat.text


async def test_known_traffic_shows_in_the_metrics(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for _ in range(10):
        assert (await client.get(TOOL_URL)).status_code == 200
    assert (await client.get("/api/v1/tools/no_such_tool")).status_code == 404
    after = await scrape(client)

    route = "/api/v1/tools/{name}"
    requests = "toolcatalog_http_requests_total"
    assert delta(before, after, requests, route=route, method="GET", status="200") == 10
    assert delta(before, after, requests, route=route, method="GET", status="404") == 1
    assert delta(before, after, "toolcatalog_cache_hits_total", cache="tool") == 9
    assert delta(before, after, "toolcatalog_cache_misses_total", cache="tool") == 2
    histogram = "toolcatalog_http_request_duration_seconds_count"
    assert delta(before, after, histogram, route=route, method="GET") == 11
    assert delta(before, after, requests, route="/metrics", method="GET", status="200") == 1
    assert after[("toolcatalog_cache_entries", frozenset({("cache", "tool")}))] >= 1


async def test_the_json_metrics_have_the_seed_shape_and_agree_with_prometheus(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        await client.get(TOOL_URL)
    samples = await scrape(client)
    body = (await client.get("/api/v1/tools/metrics")).json()
    assert set(body) >= {"system", "cache", "database", "api", "loading", "reload"}
    assert set(body["system"]) >= {"uptime_seconds", "start_time"}
    assert set(body["cache"]) >= {
        "hits",
        "misses",
        "hit_rate_percent",
        "current_size",
        "evictions",
    }
    assert set(body["database"]) >= {
        "total_queries",
        "errors",
        "error_rate_percent",
        "duration_ms",
        "active_connections",
    }
    assert set(body["database"]["duration_ms"]) == {"avg", "p50", "p95", "p99"}
    assert set(body["api"]["duration_ms"]) == {"p50", "p95", "p99"}
    assert "/api/v1/tools/{name}" in body["api"]["routes"]

    hits = samples[("toolcatalog_cache_hits_total", frozenset({("cache", "tool")}))]
    misses = samples[("toolcatalog_cache_misses_total", frozenset({("cache", "tool")}))]
    assert body["cache"]["hits"] == hits
    assert body["cache"]["misses"] == misses
    assert body["cache"]["hit_rate_percent"] == round(100 * hits / (hits + misses), 2)
    queries = sum(
        v for (n, _), v in samples.items() if n == "toolcatalog_db_query_duration_seconds_count"
    )
    assert body["database"]["total_queries"] >= queries  # the scrape came first


async def test_a_tool_reads_alike_when_loaded_held_or_behind_a_key_check(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # One handler answers (api/tool_reads.py): called before routing for an open read, by
    # the route after the key check for a keyed one. What could differ is the wrapping.
    reader = await runtime.keys.create("ops_reader", Role.reader)
    keyed = {"X-API-Key": reader.secret}

    def comparable(r: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in r.headers.items() if k not in ("date", "x-request-id")}

    runtime.catalog.invalidate_all()
    loaded = await client.get(TOOL_URL)  # from the database
    held = await client.get(TOOL_URL)  # from memory
    checked = await client.get(TOOL_URL, headers=keyed)
    assert loaded.status_code == held.status_code == checked.status_code == 200
    assert loaded.content == held.content == checked.content
    assert loaded.json()["name"] == "alpha_tool"
    assert comparable(loaded) == comparable(held) == comparable(checked)
    assert held.headers["cache-control"] == "no-cache"

    etag = loaded.headers["etag"]
    for if_none_match, status in [
        (etag, 304),
        (f'"other", {etag}', 304),
        ('"other"', 200),
        ("*", 304),
        (f"W/{etag}", 304),
        ('"x", ' * 300, 422),  # over the header's 1,000 characters
    ]:
        runtime.catalog.invalidate_all()
        answers = [
            await client.get(TOOL_URL, headers={"If-None-Match": if_none_match}),
            await client.get(TOOL_URL, headers={"If-None-Match": if_none_match}),
            await client.get(TOOL_URL, headers={"If-None-Match": if_none_match, **keyed}),
        ]
        assert [a.status_code for a in answers] == [status] * 3, if_none_match
        if status < 400:
            assert all(comparable(a) == comparable(answers[0]) for a in answers)
            assert all(a.headers["etag"] == etag for a in answers)


async def test_lists_and_searches_read_alike_before_routing_and_behind_a_key_check(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # One handler (api/tool_lists.py): before routing for an open list in a plain spelling,
    # by the route for a keyed one or any other spelling (which it validates).
    for name in ("beta_tool", "gamma_tool"):
        await runtime.catalog.create_tool(make_tool(name, description="rotate the logs"))
    reader = await runtime.keys.create("list_reader", Role.reader)
    keyed = {"X-API-Key": reader.secret}

    def comparable(r: httpx.Response) -> tuple[int, Any, dict[str, str]]:
        kept = {k: v for k, v in r.headers.items() if k not in ("date", "x-request-id")}
        if r.status_code == 200:
            return r.status_code, r.content, kept
        return r.status_code, {**r.json(), "request_id": None}, kept

    first = (await client.get("/api/v1/tools?q=rotate%20logs&limit=1")).json()
    spellings = [
        "limit=2", "q=rotate%20logs&limit=1", "q=rotate%20logs&fields=full",
        f"q=rotate%20logs&limit=1&cursor={first['next_cursor']}", "platform=linux&enabled=true",
        "status=active&tag=x&tag=y", "capability=no_such_capability", "cursor=bogus",
        "limit=0", "limit=501", "platform=mars", "enabled=yes", "limit=2&limit=3",
        "category=Not_Snake", "page=2", "q=",
    ]  # fmt: skip
    for spelling in spellings:
        url = f"/api/v1/tools?{spelling}"
        open_read, keyed_read = await client.get(url), await client.get(url, headers=keyed)
        assert comparable(open_read) == comparable(keyed_read), spelling
    assert first["total"] == 2
    assert len(first["items"]) == 1


async def test_an_unknown_tool_is_a_problem_naming_the_closest_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/tools/alpha_tol")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "alpha_tool" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


async def test_a_key_that_is_sent_is_checked_even_for_a_cached_read(
    client: httpx.AsyncClient,
) -> None:
    await client.get(TOOL_URL)
    assert (await client.get(TOOL_URL, headers={"X-API-Key": "tc_not_a_key"})).status_code == 401
    bearer = {"Authorization": "Bearer tc_not_a_key"}
    assert (await client.get(TOOL_URL, headers=bearer)).status_code == 401


async def test_reads_needing_a_key_are_never_answered_from_the_fast_path(
    settings: Settings, db: Database
) -> None:
    required = settings.model_copy(update={"auth": "required"})
    async with open_runtime(required, db=db, migrate=False) as opened:
        await opened.catalog.create_tool(make_tool("beta_tool"))
        await opened.catalog.get_tool("beta_tool")  # cached
        async with _client(opened) as client:
            response = await client.get("/api/v1/tools/beta_tool")
    assert response.status_code == 401


async def test_with_auth_required_the_json_figures_need_a_key_but_scrapes_do_not(
    settings: Settings, db: Database
) -> None:
    required = settings.model_copy(update={"auth": "required"})
    async with open_runtime(required, db=db, migrate=False) as opened, _client(opened) as client:
        assert (await client.get("/metrics")).status_code == 200
        for path in ("/api/v1/tools/metrics", "/api/v1/tools/reload/history"):
            assert (await client.get(path)).status_code == 401, path
        reader = await opened.keys.create("ops_reader", Role.reader)
        as_reader = {"X-API-Key": reader.secret}
        assert (await client.get("/api/v1/tools/metrics", headers=as_reader)).status_code == 200


async def test_reload_needs_an_admin_key_and_is_counted_and_recorded(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert (await client.post("/api/v1/tools/reload")).status_code == 401
    editor = await runtime.keys.create("ops_editor", Role.editor)
    as_editor = {"Authorization": f"Bearer {editor.secret}"}
    assert (await client.post("/api/v1/tools/reload", headers=as_editor)).status_code == 403

    admin = await runtime.keys.create("ops_admin", Role.admin)
    before = await scrape(client)
    await client.get(TOOL_URL)
    response = await client.post(
        "/api/v1/tools/reload", headers={"Authorization": f"Bearer {admin.secret}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["triggered_by"] == "ops_admin"
    assert len(runtime.catalog.state.tools) == 0  # this replica forgot its cache

    after = await scrape(client)
    assert delta(before, after, "toolcatalog_reloads_total", trigger="api") == 1
    history = (await client.get("/api/v1/tools/reload/history")).json()
    assert history["history"][0]["generation"] == body["generation"]
    assert history["history"][0]["actor"] == "ops_admin"
    stats = (await client.get("/api/v1/tools/reload/statistics")).json()
    assert stats["total_reloads"] >= 1
    assert stats["by_trigger"]["api"] >= 1
    assert stats["last_reload"]["generation"] == body["generation"]


async def test_invented_methods_are_counted_under_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    await client.request("BREW", TOOL_URL)
    await client.request("PROPFIND", TOOL_URL)
    after = await scrape(client)
    methods = {dict(labels).get("method") for (name, labels) in after if "http" in name}
    assert "BREW" not in methods
    assert "PROPFIND" not in methods
    other = sum(
        v - before.get(k, 0.0)
        for k, v in after.items()
        if k[0] == "toolcatalog_http_requests_total" and dict(k[1]).get("method") == "OTHER"
    )
    assert other == 2


async def test_performance_stats_report_the_cache_and_the_routes(
    client: httpx.AsyncClient,
) -> None:
    await client.get(TOOL_URL)
    await client.get(TOOL_URL)
    body = (await client.get("/api/v1/tools/performance/stats")).json()
    assert body["cache"]["hits"] >= 1
    assert "/api/v1/tools/{name}" in body["routes"]
    assert body["database"]["available"] is True


async def test_bodies_refused_before_routing_are_counted_under_their_route(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    plain = await client.post("/api/v1/tools", content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    big = await client.put(
        TOOL_URL, content=b"{}", headers={"Content-Length": str(10**9), "If-Match": "*"}
    )
    assert big.status_code == 413
    after = await scrape(client)
    requests = "toolcatalog_http_requests_total"
    assert delta(before, after, requests, route="/api/v1/tools", method="POST", status="415") == 1
    assert (
        delta(before, after, requests, route="/api/v1/tools/{name}", method="PUT", status="413")
        == 1
    )
    assert delta(before, after, requests, route="unmatched", method="POST", status="415") == 0
