"""POST /api/v1/telemetry and the analytics routes through the real ASGI app: a reporter
key posts and may do nothing else, bad events are rejected one by one, and what was posted
shows in usage, profiles and capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .support import Keys, assert_problem, create


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tool": "alpha_tool",
        "capability": "process_list",
        "pattern": "snapshot",
        "duration_ms": 500.0,  # declared: 50 ms, so 10x too slow
        "success": True,
    }
    base.update(overrides)
    return base


async def test_a_batch_is_accepted_with_202_and_bad_events_rejected_by_index(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys)
    events = [event(), event(tool="ghost"), event(error="free text with spaces"), event()]
    response = await client.post(
        "/api/v1/telemetry", json={"events": events}, headers=keys.reporter
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert "unknown tool 'ghost'" in body["rejected"][0]["reason"]
    assert body["rejected"][1]["reason"].startswith("error:")


async def test_a_reporter_key_posts_telemetry_and_nothing_else(
    make_client: Any, keys: Keys
) -> None:
    async with make_client(auth="required") as client:
        await create(client, keys)
        posted = await client.post(
            "/api/v1/telemetry", json={"events": [event()]}, headers=keys.reporter
        )
        assert posted.status_code == 202
        assert_problem(await client.get("/api/v1/tools", headers=keys.reporter), 403)
        assert_problem(
            await client.post("/api/v1/select", json={"request": "x"}, headers=keys.reporter),
            403,
        )
        written = await client.post("/api/v1/tools", json={}, headers=keys.reporter)
        assert_problem(written, 403)
        assert_problem(
            await client.post("/api/v1/telemetry", json={"events": [event()]}, headers=keys.reader),
            403,
        )
        assert_problem(await client.post("/api/v1/telemetry", json={"events": [event()]}), 401)


async def test_a_body_without_events_is_a_422(client: httpx.AsyncClient, keys: Keys) -> None:
    for body in ({}, {"events": []}, {"events": [event()], "extra": 1}, {"events": "x"}):
        response = await client.post("/api/v1/telemetry", json=body, headers=keys.editor)
        assert_problem(response, 422)


async def test_posted_events_show_in_usage_profiles_and_capacity(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys)
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).isoformat()
    events = [event(success=i % 4 != 0, at=yesterday) for i in range(40)]
    response = await client.post("/api/v1/telemetry", json={"events": events}, headers=keys.admin)
    assert response.json() == {"accepted": 40, "rejected": []}

    usage = (await client.get("/api/v1/analytics/usage", params={"by": "pattern"})).json()
    assert [(b["key"], b["calls"]) for b in usage["buckets"]] == [
        ("alpha_tool/process_list/snapshot", 40)
    ]
    assert usage["buckets"][0]["success_rate"] == 0.75
    everything = await client.get(
        "/api/v1/analytics/usage", params={"by": "capability", "interval": "all"}
    )
    assert everything.json()["buckets"][0]["bucket"] is None

    profiles = (await client.get("/api/v1/analytics/profiles")).json()
    [profile] = profiles["patterns"]
    assert profile["declared_time_ms"] == 50
    assert 9 < profile["time_ratio"] < 11
    few = await client.get("/api/v1/analytics/profiles", params={"min_samples": 41})
    assert few.json()["patterns"] == []

    capacity = (await client.get("/api/v1/analytics/capacity", params={"days": 3})).json()
    [tool] = capacity["tools"]
    assert (tool["tool"], tool["daily_calls"]) == ("alpha_tool", [0, 0, 40])


async def test_analytics_refuse_a_bad_window_or_parameter(client: httpx.AsyncClient) -> None:
    since, until = "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"
    assert_problem(
        await client.get("/api/v1/analytics/usage", params={"since": since, "until": until}),
        422,
    )
    years = {"since": "2000-01-01T00:00:00Z", "interval": "hour"}
    assert_problem(await client.get("/api/v1/analytics/usage", params=years), 422)
    assert_problem(await client.get("/api/v1/analytics/usage", params={"by": "host"}), 422)
    assert_problem(await client.get("/api/v1/analytics/usage", params={"group": "tool"}), 422)
