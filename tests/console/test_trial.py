"""Try selection: the selector's answer, explained, with a link that repeats the query."""

from __future__ import annotations

import html
import re

import httpx

from builders import make_tool
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime


async def _catalog(runtime: Runtime) -> None:
    for name in ("process_lister", "process_watcher"):
        await runtime.catalog.create_tool(
            make_tool(name, examples=["list the processes on web01"]), actor=Actor("t")
        )


async def test_a_request_shows_the_decision_candidates_reasons_and_retrieval(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalog(runtime)
    page = await browser.get("/ui/select", params={"request": "list the processes on web01"})
    assert page.status_code == 200
    text = page.text
    assert 'class="decision"' in text
    assert "<h2>Candidates</h2>" in text
    assert re.search(r'id="retrieval">(lexical|hybrid)<', text)
    assert text.count('href="/ui/tools/process_') >= 2


async def test_excluded_candidates_say_why(browser: httpx.AsyncClient, runtime: Runtime) -> None:
    await _catalog(runtime)
    page = await browser.get(
        "/ui/select",
        params={"request": "list the processes on web01", "exclude": "process_watcher"},
    )
    assert "<h2>Excluded</h2>" in page.text
    excluded = page.text.split("<h2>Excluded</h2>", 1)[1]
    assert "process_watcher" in excluded


async def test_the_share_link_repeats_the_exact_query(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalog(runtime)
    params = {"request": "list the processes & threads", "mode": "fast", "environment": "dev"}
    page = await browser.get("/ui/select", params=params)
    match = re.search(r'id="share" readonly value="([^"]+)"', page.text)
    assert match is not None
    shared = httpx.URL(html.unescape(match.group(1)))
    assert dict(shared.params) == params
    again = await browser.get(shared.path, params=shared.params)
    assert 'value="fast" selected' in again.text


async def test_a_bad_constraint_is_explained_at_its_field(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/ui/select", params={"request": "x", "max_cost": "lots"})
    assert page.status_code == 422
    assert "constraints.max_cost" in page.text


async def test_the_empty_form_selects_nothing(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/ui/select")
    assert page.status_code == 200
    assert "<h2>Decision</h2>" not in page.text
