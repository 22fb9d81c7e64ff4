"""Draft generators: a command's --help text, an OpenAPI operation and an MCP tool each give a
draft in the editor, never saved until the editor saves it; a hostile paste (binary, huge,
markup) gets a clear error or is shown escaped."""

from __future__ import annotations

import html
import re

import httpx
import orjson
import pytest

from toolcatalog.errors import NotFound
from toolcatalog.runtime import Runtime

from .support import post_form, sign_in

HELP = """\
Usage: logsieve [OPTION]... PATTERN [FILE]...
Search log files for lines matching PATTERN, newest first.

Options:
  -n, --lines=NUM        show at most NUM lines
  -s, --since=TIME       only lines after TIME
  -i, --ignore-case      ignore case distinctions
      --help             display this help and exit
"""
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Inventory", "version": "2.1.0", "description": "The inventory API."},
    "servers": [{"url": "https://inventory.example.com/v2"}],
    "paths": {
        "/hosts/{host_id}": {
            "get": {
                "operationId": "getHost",
                "summary": "Look up one host",
                "parameters": [
                    {
                        "name": "host_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            },
            "delete": {"operationId": "deleteHost", "summary": "Forget a host"},
        }
    },
}
MCP_TOOLS = {
    "tools": [
        {
            "name": "list_buckets",
            "description": "List the storage buckets of the account.",
            "inputSchema": {"type": "object", "properties": {"prefix": {"type": "string"}}},
            "annotations": {"readOnlyHint": True},
        },
        {
            "name": "delete_bucket",
            "description": "Delete a bucket and everything in it.",
            "inputSchema": {"type": "object", "properties": {"bucket": {"type": "string"}}},
            "annotations": {"readOnlyHint": False, "destructiveHint": True},
        },
    ]
}


def _draft(page: str) -> str:
    match = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None, page[:2000]
    return html.unescape(match.group(1))


async def _generate(browser: httpx.AsyncClient, **fields: str) -> httpx.Response:
    return await post_form(browser, "/ui/new/generate", fields)


async def test_a_help_text_drafts_a_command_tool_that_is_saved_only_after_review(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    answer = await _generate(browser, source="help", text=HELP)
    assert answer.status_code == 200, answer.text
    assert 'id="generated"' in answer.text
    assert "examples: none given" in answer.text
    draft = _draft(answer.text)
    assert "name: logsieve" in draft
    assert "command: logsieve {pattern}" in draft
    assert "lines:" in draft
    assert "type: integer" in draft
    with pytest.raises(NotFound):
        await runtime.catalog.get_tool("logsieve")
    saved = await post_form(browser, "/ui/new", {"yaml": draft, "action": "save"})
    assert saved.status_code == 303, saved.text
    assert (await runtime.catalog.get_tool("logsieve")).tool.execution is not None


async def test_an_openapi_operation_drafts_a_tool_of_that_operation(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    text = orjson.dumps(SPEC).decode()
    answer = await _generate(browser, source="openapi", text=text, pick="getHost")
    assert answer.status_code == 200, answer.text
    draft = _draft(answer.text)
    assert "name: get_host" in draft
    assert "path: /v2/hosts/{host_id}" in draft
    assert "delete_host" not in draft
    whole = _draft((await _generate(browser, source="openapi", text=text)).text)
    assert "get_host" in whole
    assert "delete_host" in whole
    missing = await _generate(browser, source="openapi", text=text, pick="GET /nowhere")
    assert missing.status_code == 422
    assert "getHost, deleteHost" in missing.text
    swagger = await _generate(browser, source="openapi", text='{"swagger": "2.0"}')
    assert swagger.status_code == 422
    assert "convert it to OpenAPI 3" in swagger.text


async def test_an_mcp_tool_drafts_a_tool_with_its_effect_from_the_annotations(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    text = orjson.dumps(MCP_TOOLS).decode()
    first = _draft((await _generate(browser, source="mcp", text=text)).text)
    assert "list_buckets" in first
    assert "effect: read" in first
    assert "execution" not in first
    second = await _generate(
        browser, source="mcp", text=text, pick="delete_bucket", server="https://mcp.example.com/mcp"
    )
    draft = _draft(second.text)
    assert "effect: destructive" in draft
    assert "url: https://mcp.example.com/mcp" in draft
    assert "the paste holds 2 tools" in second.text


@pytest.mark.parametrize(
    ("source", "text", "said"),
    [
        ("help", "Usage: tool\x00\x01\x02 binary", "NUL bytes"),
        ("help", "Usage: x\n" + "a" * 150_000, "at most 100000"),
        ("help", "no usage line here\n  -v  verbose", "Usage: &lt;command&gt;"),
        ("help", "Usage: <script>alert(1)</script>\n", "Usage: &lt;command&gt;"),
        ("openapi", "paths: [unclosed", "YAML syntax error"),
        ("mcp", '{"tools": [1, 2]}', "no MCP tool in the paste"),
        ("mcp", "   ", "the box is empty"),
        ("elsewhere", "x", "pick help, openapi or mcp"),
    ],
)
async def test_a_paste_that_cannot_be_drafted_gets_a_clear_error_and_is_kept(
    source: str, text: str, said: str, browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    answer = await _generate(browser, source=source, text=text)
    assert answer.status_code == 422
    assert said in answer.text
    assert "<script>alert" not in answer.text


async def test_markup_in_a_help_text_is_shown_escaped_in_the_draft(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    hostile = "Usage: tidy FILE\n<img src=x onerror=alert(1)> cleans </textarea><b>up</b>\n"
    answer = await _generate(browser, source="help", text=hostile)
    assert answer.status_code == 200
    assert "<img src=x" not in answer.text
    assert "</textarea><b>" not in answer.text
    assert "<img src=x onerror=alert(1)>" in _draft(answer.text)


async def test_readers_may_not_draft(browser: httpx.AsyncClient, secrets: dict[str, str]) -> None:
    assert (await browser.get("/ui/new/generate")).status_code == 401
    await sign_in(browser, secrets["reader"])
    assert (await _generate(browser, source="help", text=HELP)).status_code == 403
