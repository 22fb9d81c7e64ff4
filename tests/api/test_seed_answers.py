"""The seed's reads answered from memory (api/seed_answers.py): the middleware's fast path
and the route give the same bytes and headers for every list and get, the fast path takes
only the plain spellings of the list's parameters, and never takes a path a fixed route
answers. A request with a key always reaches the route (the key is checked there), so a
keyed read is the route's answer and a keyless one the fast path's."""

from __future__ import annotations

import httpx
import orjson
import pytest

from builders import tool_doc
from toolcatalog import metrics
from toolcatalog.api.app import create_app
from toolcatalog.api.seed_answers import SeedListQuery, parse_list_query
from toolcatalog.api.seed_stats import SeedStats
from toolcatalog.metrics import Samples
from toolcatalog.runtime import Runtime

from .support import ClientFactory, Keys

SEED = "/opsconductor/api/v1/tools"

QUERIES = (
    "",
    "?name=test",
    "?name=TEST",
    "?enabled=true",
    "?enabled=false",
    "?latest=true",
    "?latest=true&name=test",
    "?status=testing",
    "?status=active&enabled=true",
    "?platform=linux&category=system",
    "?platform=windows",
    "?page=2&page_size=2",
    "?page=9&page_size=2",
    "?page_size=100",
    # Spellings the fast path leaves to the route: answered alike all the same.
    "?enabled=1",
    "?enabled=True",
    "?page=01",
    "?name=",
    "?name=test&name=speed",
    "?name=%74est",
    "?name=te+st",
)
REFUSED = ("?latest=false", "?page_size=101", "?page=0", "?enabled=maybe", "?owner=ops")


async def _tools(client: httpx.AsyncClient, keys: Keys) -> None:
    """Five tools, created through our routes (under /native with the setting on)."""
    for name, overrides in (
        ("test_runner", {}),
        ("speedtest_cli", {"status": "experimental"}),
        ("other_tool", {"enabled": False}),
        ("win_probe", {"platform": "windows", "category": "network"}),
        ("search", {}),  # a word of our paths, and a tool's name too
    ):
        r = await client.post(
            "/native/api/v1/tools", json=tool_doc(name, **overrides), headers=keys.editor
        )
        assert r.status_code == 201, r.text


def _same(fast: httpx.Response, route: httpx.Response) -> None:
    assert fast.status_code == route.status_code, (fast.text, route.text)
    if route.status_code == 200:
        assert fast.content == route.content
        assert fast.headers["content-type"] == route.headers["content-type"]
        assert fast.headers.get("etag") == route.headers.get("etag")
    else:
        assert fast.json().get("errors") == route.json().get("errors")
        assert fast.json()["detail"] == route.json()["detail"]


@pytest.mark.parametrize("prefix", [SEED, "/api/v1/tools"])
async def test_every_seed_list_and_get_answers_the_routes_bytes_from_the_first_request(
    make_client: ClientFactory, keys: Keys, prefix: str
) -> None:
    async with make_client(opsconductor_api=True) as client:
        await _tools(client, keys)
        for query in (*QUERIES, *REFUSED):
            for _ in range(2):  # first from memory, then from the kept answer
                fast = await client.get(prefix + query)
                _same(fast, await client.get(prefix + query, headers=keys.reader))
        for name in ("test_runner", "other_tool", "search", "no_such_tool", "health"):
            fast = await client.get(f"{prefix}/{name}")
            _same(fast, await client.get(f"{prefix}/{name}", headers=keys.reader))


async def test_fixed_paths_under_the_seed_mounts_are_never_taken_for_tool_names(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(opsconductor_api=True) as client:
        await _tools(client, keys)
        for prefix in (SEED, "/api/v1/tools"):
            health = await client.get(f"{prefix}/health")
            assert health.json()["status"] == "healthy", health.text
        metrics = await client.get("/api/v1/tools/metrics")
        assert "system" in metrics.json(), metrics.text
        assert (await client.get("/api/v1/tools/search")).json()["tool_name"] == "search"


async def test_a_write_changes_the_next_fast_answer(make_client: ClientFactory, keys: Keys) -> None:
    async with make_client(opsconductor_api=True) as client:
        await _tools(client, keys)
        before = (await client.get(f"{SEED}?name=test")).json()
        tool_before = (await client.get(f"{SEED}/test_runner")).json()
        r = await client.put(
            f"{SEED}/test_runner",
            json={"description": "Runs the tests, again."},
            headers=keys.editor,
        )
        assert r.status_code == 200, r.text
        after = (await client.get(f"{SEED}?name=test")).json()
        tool_after = (await client.get(f"{SEED}/test_runner")).json()
        assert tool_before["description"] != "Runs the tests, again."
        assert tool_after["description"] == "Runs the tests, again."
        runner = next(t for t in after["tools"] if t["tool_name"] == "test_runner")
        assert runner["description"] == "Runs the tests, again."
        assert before["total"] == after["total"]


async def test_search_platform_and_category_answers_are_the_seed_shapes(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(opsconductor_api=True) as client:
        await _tools(client, keys)
        one = (await client.get(f"{SEED}/test_runner")).content
        for path in (
            "/search/query?q=runner",
            "/platform/linux",
            "/category/system",
            "/capabilities/process_list/tools",
        ):
            first = await client.get(SEED + path)
            assert first.status_code == 200, first.text
            assert (await client.get(SEED + path)).content == first.content
        search = (await client.get(f"{SEED}/search/query", params={"q": "runner"})).json()
        assert search["results"] == [orjson.loads(one)]
        assert search["fields"] == ["tool_name", "description"]
        platform = (await client.get(f"{SEED}/platform/windows")).json()
        assert [t["tool_name"] for t in platform["tools"]] == ["win_probe"]
        assert platform == {"platform": "windows", "tools": platform["tools"], "total": 1}


def test_the_fast_path_takes_the_plain_spellings_as_the_route_reads_them() -> None:
    assert parse_list_query(b"") == SeedListQuery()
    assert parse_list_query(b"name=test&latest=true") == SeedListQuery(name="test")
    assert parse_list_query(b"enabled=false&page=3&page_size=100") == SeedListQuery(
        page=3, page_size=100, enabled=False
    )
    assert parse_list_query(b"name=a+b%21") == SeedListQuery(name="a b!")
    assert parse_list_query(b"status=testing") == SeedListQuery(status="testing")


@pytest.mark.parametrize(
    "raw",
    [
        b"latest=false",
        b"enabled=1",
        b"page=0",
        b"page=01",
        b"page_size=101",
        b"page=1000001",
        b"name=",
        b"name=a&name=b",
        b"owner=ops",
        b"status=retired",
        b"name=" + b"x" * 201,
        b"platform=" + b"x" * 65,
    ],
)
def test_the_fast_path_leaves_every_other_spelling_to_the_route(raw: bytes) -> None:
    assert parse_list_query(raw) is None


async def test_the_seed_stats_answer_the_seed_envelope_keyless_and_keyed(
    make_client: ClientFactory, keys: Keys
) -> None:
    async with make_client(opsconductor_api=True) as client:
        await _tools(client, keys)
        await client.get(SEED)
        for headers in (keys.none, keys.reader, keys.none):
            r = await client.get(f"{SEED}/performance/stats", headers=headers)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/json"
            body = r.json()
            assert body["status"] == "success"
            performance = body["performance"]
            assert performance["connection_pool"]["status"] == "healthy"
            assert {"cache", "snapshot_cache", "database", "requests", "routes"} <= set(performance)
            assert SEED in performance["routes"]


async def test_the_seed_stats_are_kept_fresh_only_while_polled_and_stop_with_the_app(
    runtime: Runtime,
) -> None:
    app = create_app(runtime)
    stats = SeedStats.of_state(app.state)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert stats.body is None  # nothing is made before anyone asks
        assert (await client.get(f"{SEED}/performance/stats")).status_code == 200
        assert stats.body is not None
        assert stats.refreshing()
    assert not stats.refreshing()  # the app's stop cancels the refresh


def test_samples_grouped_by_a_label_equal_the_samples_read_one_label_value_at_a_time() -> None:
    metrics.HTTP_DURATION.labels("/grouping-probe", "GET").observe(0.002)
    metrics.HTTP_REQUESTS.labels("/grouping-probe", "GET", "200").inc()
    s = Samples.collect()
    histogram = "toolcatalog_http_request_duration_seconds"
    counts = s.totals_by(histogram + "_count", "route")
    assert counts["/grouping-probe"] >= 1
    assert counts == {r: s.total(histogram + "_count", route=r) for r in counts}
    assert s.buckets_by(histogram, "route") == {r: s.buckets(histogram, route=r) for r in counts}
