"""Authoring: skeletons, live validation at the line, the diff preview, and saving with
If-Match, where a concurrent change shows the other edit and keeps the visitor's text."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from builders import make_tool
from toolcatalog.catalog.writes import Actor
from toolcatalog.console.drafts import SKELETONS
from toolcatalog.formats.dump import dump_tool
from toolcatalog.runtime import Runtime

from .support import post_form, sign_in


def _field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None, name
    return html.unescape(match.group(1))


def _textarea(page: str) -> str:
    match = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None
    return html.unescape(match.group(1))


@pytest.mark.parametrize("kind", sorted(SKELETONS))
async def test_every_skeleton_saves_as_a_new_tool(
    kind: str, browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    page = await browser.get("/ui/new", params={"template": kind})
    text = _textarea(page.text)
    response = await post_form(browser, "/ui/new", {"yaml": text, "action": "save"})
    assert response.status_code == 303, response.text
    assert (await runtime.catalog.get_tool(f"new_{kind}_tool")).tool.name == f"new_{kind}_tool"


async def test_a_new_tool_from_an_existing_one_starts_as_its_copy(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await runtime.catalog.create_tool(make_tool("original_tool"), actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    page = await browser.get("/ui/new", params={"from": "original_tool"})
    assert "name: original_tool_copy" in _textarea(page.text)


async def test_readers_may_not_author(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await runtime.catalog.create_tool(make_tool("guarded_tool"), actor=Actor("t"))
    assert (await browser.get("/ui/new")).status_code == 401
    await sign_in(browser, secrets["reader"])
    assert (await browser.get("/ui/tools/guarded_tool/edit")).status_code == 403
    refused = await post_form(browser, "/ui/new", {"yaml": SKELETONS["command"]})
    assert refused.status_code == 403


async def test_live_validation_names_the_line_of_each_problem(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    broken = SKELETONS["command"].replace("platform: linux", "platform: plan9")
    broken = broken.replace("time_estimate_ms: 500", "time_estimate_ms: 10 * (files +")
    response = await post_form(browser, "/ui/check", {"yaml": broken})
    assert response.status_code == 200
    text = response.text
    assert "<strong>line 4</strong>: <code>platform</code>" in text
    assert "time_estimate_ms" in text
    syntax = await post_form(browser, "/ui/check", {"yaml": "name: [unclosed\n"})
    assert "line" in syntax.text
    assert "YAML syntax error" in syntax.text


async def test_an_edit_is_previewed_as_a_diff_and_then_saved(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await runtime.catalog.create_tool(make_tool("edited_tool"), actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    page = (await browser.get("/ui/tools/edited_tool/edit")).text
    text = _textarea(page).replace("does a useful thing", "does a better thing")
    form = {"yaml": text, "etag": _field(page, "etag"), "revision": _field(page, "revision")}
    preview = await post_form(browser, "/ui/tools/edited_tool/edit", {**form, "action": "preview"})
    assert "does a better thing" in preview.text
    assert "<code>description</code>" in preview.text
    assert (await runtime.catalog.get_tool("edited_tool")).revision == 1
    saved = await post_form(browser, "/ui/tools/edited_tool/edit", {**form, "action": "save"})
    assert saved.status_code == 303
    stored = await runtime.catalog.get_tool("edited_tool")
    assert "better thing" in stored.tool.description
    audit = await runtime.catalog.audit(tool_name="edited_tool")
    assert audit[0].actor == "console-editor"


async def test_a_concurrent_change_is_a_412_that_shows_it_and_keeps_my_text(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await runtime.catalog.create_tool(make_tool("raced_tool"), actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    page = (await browser.get("/ui/tools/raced_tool/edit")).text
    await runtime.catalog.patch_tool(
        "raced_tool", {"tags": ["theirs"]}, actor=Actor("someone-else")
    )
    mine = _textarea(page).replace("does a useful thing", "does my thing")
    form = {"yaml": mine, "etag": _field(page, "etag"), "revision": _field(page, "revision")}
    refused = await post_form(browser, "/ui/tools/raced_tool/edit", {**form, "action": "save"})
    assert refused.status_code == 412
    assert "saved revision 2" in refused.text
    assert "theirs" in refused.text.split('id="conflict"', 1)[1]
    assert _textarea(refused.text) == mine
    stored = await runtime.catalog.get_tool("raced_tool")
    assert stored.tool.tags == ["theirs"]
    assert _field(refused.text, "etag") == stored.etag
    again = {**form, "etag": stored.etag, "action": "save"}
    assert (await post_form(browser, "/ui/tools/raced_tool/edit", again)).status_code == 303
    assert "my thing" in (await runtime.catalog.get_tool("raced_tool")).tool.description


async def test_renaming_in_the_editor_is_refused_at_the_name_line(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    tool = make_tool("named_tool")
    await runtime.catalog.create_tool(tool, actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    text = dump_tool(tool).replace("name: named_tool", "name: other_name")
    response = await post_form(browser, "/ui/tools/named_tool/edit", {"yaml": text})
    assert response.status_code == 422
    assert "<strong>line 1</strong>: <code>name</code>" in response.text


async def test_creating_a_tool_that_exists_keeps_the_draft_and_says_so(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    tool = make_tool("taken_tool")
    await runtime.catalog.create_tool(tool, actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    text = dump_tool(tool)
    response = await post_form(browser, "/ui/new", {"yaml": text, "action": "save"})
    assert response.status_code == 409
    assert _textarea(response.text) == text
