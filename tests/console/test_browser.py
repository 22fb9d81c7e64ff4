"""The console in a real browser (headless Chromium): search, open a tool, edit and save, the
412 path, try a selection, keyboard use and accessibility. Screenshots go to build/screenshots.

Skipped, saying why, where Chromium is missing (`make test` installs Debian's package where
the machine allows)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from toolcatalog.catalog.writes import Actor

from .browsing import (
    A11Y_SCRIPT,
    CHROMIUM_ARGS,
    WAIT_MS,
    Console,
    chromium_path,
    screenshot,
    serve_console,
    within_budget,
)

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed (pip install -e '.[dev]')"
)
expect = playwright_api.expect
CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed: `apt-get install chromium` (make test does it "
        "where it may)",
    ),
]


@pytest.fixture(scope="module")
async def console(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    async with serve_console(module_db_url, tmp_path_factory.mktemp("console")) as served:
        yield served


@pytest.fixture(scope="module")
async def chromium(console: Console) -> AsyncIterator[Any]:
    """The browser, closed before the console stops (its open connections would hold the
    server's shutdown)."""
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(chromium: Any, console: Console) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) per test."""
    context = await chromium.new_context(
        base_url=console.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def _sign_in(page: Any, secret: str) -> None:
    await page.goto("/ui/login")
    await page.get_by_label("API key").fill(secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("header.top")).to_contain_text("Signed in as")


@within_budget
async def test_searching_narrows_the_list_while_typing(page: Any) -> None:
    await page.goto("/ui/tools")
    await expect(page.locator("p.count")).to_contain_text("tools match")
    await page.get_by_label("Search").fill("kernel ring buffer")
    await expect(page.locator("#results")).to_contain_text("dmesg")
    await expect(page).to_have_url(re.compile(r"q=kernel"))
    await screenshot(page, "search")


@within_budget
async def test_the_list_works_without_javascript(chromium: Any, console: Console) -> None:
    context = await chromium.new_context(base_url=console.url, java_script_enabled=False)
    context.set_default_timeout(WAIT_MS)
    try:
        page = await context.new_page()
        await page.goto("/ui/tools")
        await page.get_by_label("Search").fill("kernel ring buffer")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("#results")).to_contain_text("dmesg")
    finally:
        await context.close()


@within_budget
async def test_opening_a_tool_shows_its_capabilities_and_history(page: Any) -> None:
    await page.goto("/ui/tools?q=kernel+ring+buffer")
    await page.locator("#results a", has_text="dmesg").first.click()
    await expect(page.locator("h1")).to_contain_text("dmesg")
    await expect(page.get_by_role("heading", name="Capabilities")).to_be_visible()
    await expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    await screenshot(page, "tool")


@within_budget
async def test_an_editor_edits_with_live_validation_and_saves(page: Any, console: Console) -> None:
    await _sign_in(page, console.secrets["editor"])
    await page.goto("/ui/tools/dmesg/edit")
    editor = page.get_by_label("Definition (YAML)")
    text = await editor.input_value()
    await editor.fill(text.replace("platform: linux", "platform: plan9"))
    await expect(page.locator("#validation")).to_contain_text("line")
    await expect(page.locator("#validation")).to_contain_text("platform")
    await screenshot(page, "edit-invalid")
    await editor.fill(text.replace("Prints the kernel's", "Shows the kernel's"))
    await expect(page.locator("#validation-state")).to_have_text("Valid.")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(f"{console.url}/ui/tools/dmesg")
    await expect(page.locator("main")).to_contain_text("Shows the kernel's")


@within_budget
async def test_a_concurrent_save_shows_the_other_edit_and_keeps_mine(
    page: Any, console: Console
) -> None:
    await _sign_in(page, console.secrets["editor"])
    await page.goto("/ui/tools/journalctl/edit")
    editor = page.get_by_label("Definition (YAML)")
    mine = (await editor.input_value()).replace(
        "name: journalctl\n", "name: journalctl\nversion: 1.0.1\n"
    )
    await editor.fill(mine)
    await console.runtime.catalog.patch_tool(
        "journalctl", {"tags": ["changed-elsewhere"]}, actor=Actor("someone-else")
    )
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#conflict")).to_contain_text("changed-elsewhere")
    assert await editor.input_value() == mine
    await screenshot(page, "edit-412")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(f"{console.url}/ui/tools/journalctl")
    assert (await console.runtime.catalog.get_tool("journalctl")).tool.version == "1.0.1"


@within_budget
async def test_an_editor_edits_a_tool_as_a_form_with_errors_at_the_field_and_saves(
    page: Any, console: Console
) -> None:
    await _sign_in(page, console.secrets["editor"])
    await page.goto("/ui/tools/restic")
    await page.get_by_role("link", name="Edit as a form").click()
    estimate = page.locator("#f-capabilities-0-patterns-0-profile-time_estimate_ms")
    await expect(estimate).to_be_visible()
    await screenshot(page, "form")
    await estimate.fill("40 * snapshots_nobody_declared")
    await expect(
        page.locator("#e-f-capabilities-0-patterns-0-profile-time_estimate_ms")
    ).to_contain_text("unknown input")
    await expect(page.locator("#validation-state")).to_contain_text("problem")
    await screenshot(page, "form-invalid", "#f-capabilities-0-patterns-0-profile")
    await estimate.fill("1500")
    await page.get_by_label("Description (required)").first.fill("Backs up with restic, edited.")
    await expect(page.locator("#validation-state")).to_have_text("Valid.")
    await page.get_by_role("button", name="Preview the diff").click()
    await expect(page.locator("#preview")).to_contain_text("time_estimate_ms")
    await screenshot(page, "form-preview", "#preview")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(f"{console.url}/ui/tools/restic")
    await expect(page.locator("main")).to_contain_text("Backs up with restic, edited.")
    stored = await console.runtime.catalog.get_tool("restic")
    assert stored.tool.capabilities[0].patterns[0].profile.time_estimate_ms == 1500


@within_budget
async def test_a_draft_from_a_help_text_is_reviewed_in_the_editor_then_saved(
    page: Any, console: Console
) -> None:
    await _sign_in(page, console.secrets["editor"])
    await page.goto("/ui/new")
    await page.get_by_role("link", name="draft one from a paste").click()
    await page.get_by_label("The output of command --help").fill(
        "Usage: portpeek [OPTION]... HOST\nShow which TCP ports of HOST answer.\n\n"
        "  -t, --timeout=SECONDS   give up after SECONDS\n"
    )
    await page.get_by_role("button", name="Draft from a command's --help text").click()
    await expect(page.locator("#generated")).to_contain_text("review it")
    editor = page.get_by_label("Definition (YAML)")
    await expect(editor).to_have_value(re.compile(r"command: portpeek \{host\}"))
    await screenshot(page, "draft-review")
    text = await editor.input_value()
    await editor.fill(
        text.replace(
            "tags:\n- from-help", "examples:\n- which ports of db1 answer\ntags:\n- from-help"
        )
    )
    await expect(page.locator("#validation-state")).to_have_text("Valid.")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(f"{console.url}/ui/tools/portpeek")
    stored = await console.runtime.catalog.get_tool("portpeek")
    assert stored.tool.examples == ["which ports of db1 answer"]


@within_budget
async def test_trying_a_selection_shows_the_decision_and_a_share_link(page: Any) -> None:
    await page.goto("/ui/select")
    await page.get_by_label("Request").fill("why is / full on db2")
    await page.get_by_label("Preference").select_option("fast")
    await page.get_by_role("button", name="Select").click()
    await expect(page.locator(".decision")).to_be_visible()
    assert await page.locator("table.candidates tbody tr").count() >= 1
    shared = await page.get_by_label("Link to this query").input_value()
    assert "mode=fast" in shared
    await screenshot(page, "select")


@within_budget
async def test_the_keyboard_reaches_the_search_and_submits_it(page: Any) -> None:
    await page.goto("/ui/tools")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "q":
            break
    assert await page.evaluate("document.activeElement.id") == "q"
    await page.keyboard.type("docker")
    await page.keyboard.press("Enter")
    await expect(page.locator("#results")).to_contain_text("docker")


@within_budget
async def test_the_keyboard_alone_drafts_a_tool_from_a_help_text(
    page: Any, console: Console
) -> None:
    await _sign_in(page, console.secrets["editor"])
    await page.goto("/ui/new/generate")
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "text-help":
            break
    assert await page.evaluate("document.activeElement.id") == "text-help"
    await page.keyboard.type("Usage: keyed HOST\nAsks HOST by keyboard.\n")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("#generated")).to_be_visible()
    await expect(page.get_by_label("Definition (YAML)")).to_have_value(re.compile("name: keyed"))


@pytest.mark.parametrize(
    "path", ["/ui/tools", "/ui/tools/dmesg", "/ui/select?request=disk+usage", "/ui/login"]
)
@within_budget
async def test_main_pages_pass_the_accessibility_checks(page: Any, path: str) -> None:
    await page.goto(path)
    await expect(page.locator("h1")).to_be_visible()
    assert await page.evaluate(A11Y_SCRIPT) == []


@pytest.mark.parametrize(
    "path",
    [
        "/ui/tools/dmesg/edit",
        "/ui/new?template=script",
        "/ui/keys",
        "/ui/tools/kubectl/form",
        "/ui/new/generate",
    ],
)
@within_budget
async def test_signed_in_pages_pass_the_accessibility_checks(
    page: Any, console: Console, path: str
) -> None:
    await _sign_in(page, console.secrets["admin"])
    await page.goto(path)
    await expect(page.locator("h1")).to_be_visible()
    assert await page.evaluate(A11Y_SCRIPT) == []


@pytest.mark.parametrize("path", ["/ui/tools", "/ui/tools/kubectl", "/ui/select?request=df"])
@within_budget
async def test_pages_fit_a_phone_screen_without_sideways_scrolling(
    chromium: Any, console: Console, path: str
) -> None:
    context = await chromium.new_context(
        base_url=console.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    context.set_default_timeout(WAIT_MS)
    try:
        phone = await context.new_page()
        await phone.goto(path)
        await expect(phone.locator("h1")).to_be_visible()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
        await screenshot(phone, "phone-" + path.strip("/").split("?")[0].replace("/", "-"))
    finally:
        await context.close()
