"""The catalog list, search and a tool's page, as a browser sees them."""

from __future__ import annotations

import re

import httpx

from builders import make_tool
from toolcatalog.catalog.writes import Actor
from toolcatalog.model.telemetry import ObservedStats
from toolcatalog.runtime import Runtime
from toolcatalog.selection.profiles import ObservedProfiles

from .support import post_form, sign_in


async def _add(runtime: Runtime, name: str, **overrides: object) -> None:
    await runtime.catalog.create_tool(make_tool(name, **overrides), actor=Actor("test"))


async def test_the_console_root_leads_to_the_tool_list(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/ui")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/tools"


async def test_the_list_filters_by_platform_and_full_text(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "disk_checker", description="Reports the disk usage of each mount.")
    await _add(runtime, "win_services", platform="windows", description="Lists Windows services.")
    page = await browser.get("/ui/tools", params={"platform": "windows"})
    assert page.status_code == 200
    assert "win_services" in page.text
    assert "disk_checker" not in page.text
    found = await browser.get("/ui/tools", params={"q": "disk usage"})
    assert "disk_checker" in found.text
    assert "win_services" not in found.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_a_capability_filter_takes_an_alias_and_an_unknown_one_is_explained(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "proc_tool")
    ok = await browser.get("/ui/tools", params={"capability": "process_list"})
    assert ok.status_code == 200
    assert "proc_tool" in ok.text
    bad = await browser.get("/ui/tools", params={"capability": "no_such_capability_here"})
    assert bad.status_code == 422
    assert "capability" in bad.text


async def test_a_bad_filter_value_is_reported_next_to_the_list_not_ignored(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/ui/tools", params={"platform": "amiga", "status": "x"})
    assert response.status_code == 200
    assert "&#39;amiga&#39; is not a valid platform" in response.text


async def test_the_list_pages_with_a_cursor_instead_of_loading_everything(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    for i in range(12):
        await _add(runtime, f"paged_tool_{i:02d}")
    first = await browser.get("/ui/tools", params={"limit": "10"})
    assert first.text.count('href="/ui/tools/paged_tool_') == 10
    match = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert match is not None
    second = await browser.get(match.group(1).replace("&amp;", "&"))
    assert second.text.count('href="/ui/tools/paged_tool_') == 2
    assert "First page" in second.text


async def test_an_htmx_search_gets_only_the_results(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "fragment_tool")
    response = await browser.get("/ui/tools", headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<section id="results"')
    assert "fragment_tool" in response.text
    assert "<html" not in response.text


async def test_a_tool_page_shows_capabilities_patterns_examples_versions_and_audit(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "page_tool", examples=["show the page tool at work"])
    response = await browser.get("/ui/tools/page_tool")
    assert response.status_code == 200
    text = response.text
    for part in ("process_list", "snapshot", "time_estimate_ms", "production_safe",
                 "show the page tool at work", "Versions", "Audit trail", "create"):  # fmt: skip
        assert part in text, part


async def test_an_unknown_tool_is_a_404_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/ui/tools/nothing_like_it")
    assert response.status_code == 404
    assert "nothing_like_it" in response.text
    assert "<html" in response.text


async def test_the_diff_of_two_versions_shows_what_changed(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "diffed_tool")
    await runtime.catalog.patch_tool(
        "diffed_tool", {"description": "A new description for the diff."}, actor=Actor("t")
    )
    response = await browser.get("/ui/tools/diffed_tool/diff", params={"from": "1", "to": "2"})
    assert response.status_code == 200
    assert "A new description for the diff." in response.text
    assert "<code>description</code>" in response.text


async def test_an_editor_rolls_back_and_a_reader_may_not(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await _add(runtime, "rolled_tool")
    await runtime.catalog.patch_tool("rolled_tool", {"description": "Second."}, actor=Actor("t"))
    await sign_in(browser, secrets["reader"])
    refused = await post_form(browser, "/ui/tools/rolled_tool/rollback", {"revision": "1"})
    assert refused.status_code == 403
    await sign_in(browser, secrets["editor"])
    done = await post_form(browser, "/ui/tools/rolled_tool/rollback", {"revision": "1"})
    assert done.status_code == 303
    assert (await runtime.catalog.get_tool("rolled_tool")).tool.description.startswith(
        "rolled_tool does"
    )


async def test_a_tool_page_sets_observed_figures_beside_the_declared_ones(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "observed_tool")
    before = await browser.get("/ui/tools/observed_tool")
    assert "No telemetry reported for this tool yet" in before.text
    stats = ObservedStats(
        samples=40, successes=38, p50_ms=812.0, p95_ms=2400.0, mean_ms=900.0,
        cost_mean=None, cost_samples=0,
    )  # fmt: skip
    runtime.selector.observed = ObservedProfiles(
        {("observed_tool", "process_list", "snapshot"): stats}
    )
    page = (await browser.get("/ui/tools/observed_tool")).text
    table = page.split('id="observed"', 1)[1]
    assert "50 ms" in table  # declared
    assert "812 / 2400 ms" in table
    assert "95%" in table


async def test_a_long_history_lists_the_newest_versions_and_diffs_old_ones_by_number(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _add(runtime, "busy_tool")
    for i in range(2, 56):
        await runtime.catalog.patch_tool("busy_tool", {"version": f"1.0.{i}"}, actor=Actor("t"))
    page = (await browser.get("/ui/tools/busy_tool")).text
    listed = re.findall(r'name="to" value="(\d+)"', page)
    assert listed[0] == "55"
    assert len(listed) == 50
    assert "The 50 newest revisions" in page
    old = await browser.get("/ui/tools/busy_tool/diff", params={"from": "1", "to": "3"})
    assert old.status_code == 200
    assert "1.0.3" in old.text
    missing = await browser.get("/ui/tools/busy_tool/diff", params={"from": "1", "to": "99"})
    assert missing.status_code == 404
