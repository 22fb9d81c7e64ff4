"""The MCP server at /mcp, reached by the official SDK's client over Streamable HTTP through
the real app (in process, ASGI) on the test's database, with the starter catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from builders import make_settings, starter_definitions
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import ApiKeyService, Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store.database import Database

STARTER = Path(__file__).resolve().parents[2] / "catalog"
URL = "http://testserver/mcp"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


@asynccontextmanager
async def mcp_client(
    runtime: Runtime, headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """The SDK's client over Streamable HTTP to the app over `runtime`, its lifespan running."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 123))
        async with (
            httpx2.AsyncClient(transport=transport, headers=headers or {}) as http,
            Client(streamable_http_client(URL, http_client=http)) as client,
        ):
            yield client


@pytest.fixture
async def starter(settings: Any, db: Database) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, db=db, listen=False, migrate=False) as runtime:
        tools, vocabulary = starter_definitions()
        await runtime.catalog.import_definitions(tools, actor=Actor("test"), vocabulary=vocabulary)
        yield runtime


async def test_the_three_tools_are_listed_with_schemas_and_descriptions_naming_the_catalog(
    starter: Runtime,
) -> None:
    async with mcp_client(starter) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert set(listed) == {"select_tool", "find_tools", "describe_tool"}
    count = len(
        [t for t in (await starter.catalog.get_all_tools_with_structure()).tools if t.enabled]
    )
    assert f"The catalog holds {count} enabled tools" in (listed["select_tool"].description or "")
    assert "request" in listed["select_tool"].input_schema["required"]
    assert listed["select_tool"].output_schema is not None
    assert "decision" in listed["select_tool"].output_schema["properties"]
    assert listed["find_tools"].annotations is not None
    assert listed["find_tools"].annotations.read_only_hint is True


async def test_select_tool_answers_the_decision_as_structured_content_and_text(
    starter: Runtime,
) -> None:
    async with mcp_client(starter) as client:
        result = await client.call_tool(
            "select_tool", {"request": "why is / full on db2", "top_k": 3}
        )
    assert not result.is_error
    body = result.structured_content
    assert body is not None
    assert body["decision"]["tool"] in {"du", "ncdu", "df"}
    assert 1 <= len(body["candidates"]) <= 3
    assert body["candidates"][0]["reasons"]
    assert f"selection_id: {body['selection_id']}" in result.content[0].text  # type: ignore[union-attr]
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"Decision: {body['decision']['tool']} / ")


async def test_select_tool_says_why_when_nothing_fits(starter: Runtime) -> None:
    async with mcp_client(starter) as client:
        result = await client.call_tool("select_tool", {"request": "bake a chocolate cake"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["decision"] is None
    assert result.structured_content["reason"]
    assert result.content[0].text.startswith("No tool fits: ")  # type: ignore[union-attr]


async def test_select_tool_refuses_bad_arguments_with_where_and_what(starter: Runtime) -> None:
    async with mcp_client(starter) as client:
        result = await client.call_tool(
            "select_tool", {"request": "disk usage", "preferences": {"mode": "warp"}}
        )
    assert result.is_error
    assert "mode" in result.content[0].text  # type: ignore[union-attr]


async def test_find_tools_ranks_tools_with_one_line_summaries(starter: Runtime) -> None:
    async with mcp_client(starter) as client:
        result = await client.call_tool("find_tools", {"query": "disk", "limit": 3})
        filtered = await client.call_tool(
            "find_tools", {"query": "disk", "platform": "windows", "limit": 50}
        )
    assert not result.is_error
    body = result.structured_content
    assert body is not None
    assert 1 <= len(body["tools"]) <= 3 <= body["total"]
    assert all("\n" not in t["summary"] and t["summary"] for t in body["tools"])
    assert filtered.structured_content is not None
    assert all(t["platform"] == "windows" for t in filtered.structured_content["tools"])


async def test_describe_tool_and_the_resource_give_the_full_definition(starter: Runtime) -> None:
    async with mcp_client(starter) as client:
        described = await client.call_tool("describe_tool", {"name": "du"})
        resource = await client.read_resource("toolcatalog://tools/du")
        missing = await client.call_tool("describe_tool", {"name": "no_such_tool"})
    assert not described.is_error
    assert described.structured_content is not None
    assert described.structured_content["name"] == "du"
    assert described.structured_content["capabilities"][0]["patterns"]
    assert '"name":"du"' in resource.contents[0].text.replace(" ", "")  # type: ignore[union-attr]
    assert missing.is_error
    text = missing.content[0].text  # type: ignore[union-attr]
    assert "no_such_tool" in text
    assert "find_tools" in text


async def test_an_unknown_tool_is_a_clear_error(starter: Runtime) -> None:
    async with mcp_client(starter) as client:
        result = await client.call_tool("run_everything", {})
    assert result.is_error
    assert "run_everything" in result.content[0].text  # type: ignore[union-attr]


async def test_with_auth_required_a_reader_key_is_needed(
    conn: Any, module_db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(module_db_url, tmp_path, auth="required")
    db = Database.pinned_to(settings, conn)
    reader = await ApiKeyService(db).create("mcp-reader", Role.reader)
    async with open_runtime(settings, db=db, listen=False, migrate=False) as runtime:
        app = create_app(runtime)
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 123))
            async with httpx2.AsyncClient(transport=transport) as http:
                refused = await http.post(
                    URL,
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={"Accept": "application/json, text/event-stream"},
                )
                wrong = await http.post(URL, json={}, headers={"X-API-Key": "tc_wrong"})
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "TOOLCATALOG_AUTH=required" in refused.json()["detail"]
        assert wrong.status_code == 401
        async with mcp_client(runtime, {"Authorization": f"Bearer {reader.secret}"}) as client:
            listed = await client.list_tools()
        assert {t.name for t in listed.tools} == {"select_tool", "find_tools", "describe_tool"}
