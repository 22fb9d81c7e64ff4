"""A real console for the browser tests: `toolcatalog`'s app served by uvicorn on a free
loopback port, in the test's event loop, over the starter catalog in this module's database;
and headless Chromium (Debian's package) driven by Playwright.

No sleeps: every wait is for a condition (the server started, an element shows, a text
appears), each with a generous timeout, so a busy 2-core machine is slow, not flaky."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from builders import make_settings
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.formats.catalog_folder import read_catalog_folder
from toolcatalog.runtime import Runtime, open_runtime

REPO = Path(__file__).resolve().parents[2]
# Screenshots land here; CI keeps the folder (docs/console.md).
SCREENSHOTS = Path(os.environ.get("TOOLCATALOG_SCREENSHOTS", REPO / "build" / "screenshots"))
# Each browser test's whole budget, and Playwright's wait for any one condition.
TEST_BUDGET_S = 60
WAIT_MS = 20_000
# Chromium as root in a closed network: no sandbox, and none of its calls home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions",
]  # fmt: skip


def chromium_path() -> str | None:
    """Debian's Chromium, or None with the reason given by the caller's skip."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def within_budget(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The test, failed (not hung) once it has run TEST_BUDGET_S."""

    @functools.wraps(test)
    async def budgeted(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(TEST_BUDGET_S):
            await test(*args, **kwargs)

    return budgeted


@dataclass
class Console:
    url: str
    runtime: Runtime
    secrets: dict[str, str]


@asynccontextmanager
async def serve_console(db_url: str, home: Path) -> AsyncIterator[Console]:
    """The app over the starter catalog on 127.0.0.1:<free port>, until the block ends."""
    settings = make_settings(db_url, home, semantic=False, pool_max_size=4)
    async with open_runtime(settings, listen=False) as runtime:
        folder = read_catalog_folder(REPO / "catalog")
        await runtime.catalog.import_definitions(
            folder.tools,
            actor=Actor("browser-tests"),
            vocabulary=folder.vocabulary,
            environments=folder.environments,
        )
        secrets = {
            role.value: (await runtime.keys.create(f"browser-{role.value}", role)).secret
            for role in (Role.reader, Role.editor, Role.admin)
        }
        config = uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(30):
                while not server.started:  # a condition, polled; serve() sets it
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            yield Console(f"http://127.0.0.1:{port}", runtime, secrets)
        finally:
            server.should_exit = True
            async with asyncio.timeout(30):
                await task


async def screenshot(page: Any, name: str, element: str | None = None) -> None:
    """A full-page PNG in SCREENSHOTS (Playwright makes the folder), or of one element (a
    part of a long page, such as a form's pattern)."""
    path = str(SCREENSHOTS / f"console-{name}.png")
    if element is not None:
        await page.locator(element).screenshot(path=path)
    else:
        await page.screenshot(path=path, full_page=True)


# Accessibility checks run in the page: every visible form control has a label (a <label>,
# aria-label or aria-labelledby), the page has a language and one h1, and text contrast is
# at least 4.5:1 (WCAG AA) against the first opaque background behind it.
A11Y_SCRIPT = """
() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("html has no lang");
  const h1s = document.querySelectorAll("h1").length;
  if (h1s !== 1) problems.push(`${h1s} h1 elements`);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.offsetParent === null) continue;
    const labelled = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    if (!labelled) problems.push(`unlabelled ${el.tagName} ${el.name || el.id}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("img without alt");
  }
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    if (el.offsetParent === null && getComputedStyle(el).position !== "fixed") continue;
    const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const what = el.textContent.trim().slice(0, 40);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} on ${el.tagName}: ${what}`);
  }
  return problems;
}
"""
