"""Server-side time of the console's pages (/ui): p50/p95/max per page over the starter
catalog (target: p95 <= 20 ms for every page), then the list pages over 10,000 generated
tools (paged by keyset, never loaded whole).

    python bench/console_bench.py --catalog catalog [--rounds 200] [--tools 10000]
                                  [--database-url URL]

Requests go through the whole ASGI app in-process (middleware, routing, the page, the
template), without a socket, so the figure is the server's work. Without --database-url (or
DATABASE_URL) a private embedded PostgreSQL is started in a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from import_bench import generate

from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.config import Settings
from toolcatalog.console.form_values import form_nodes
from toolcatalog.formats.catalog_folder import read_catalog_folder
from toolcatalog.formats.dump import dump_tool, tool_document
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.store.embedded import EmbeddedPostgres

STARTER_PAGES = [
    "/ui/tools",
    "/ui/tools?q=disk+usage",
    "/ui/tools?platform=linux&capability=log_search",
    "/ui/tools/dmesg",
    "/ui/tools/kubectl",
    "/ui/tools/dmesg/diff?from=1&to=1",
    "/ui/select?request=why+is+%2F+full+on+db2&mode=fast",
    "/ui/select?request=restart+nginx+on+web01&environment=production",
    "/ui/tools/dmesg/edit",
    "/ui/new?template=api",
    "/ui/tools/dmesg/form",
    "/ui/tools/kubectl/form",
    "/ui/new/form?template=api",
    "/ui/new/generate",
]
# The editors' live checks (htmx posts them while typing) and a form's Validate button.
POSTED_PAGES = [
    ("/ui/check", "dmesg", "yaml"),
    ("/ui/tools/kubectl/form/check", "kubectl", "form"),
    ("/ui/tools/kubectl/form", "kubectl", "form"),
]
TEN_K_PAGES = [
    "/ui/tools",
    "/ui/tools?limit=100",
    "/ui/tools?platform=linux&tag=tag6",
    "/ui/tools?capability=disk_usage&limit=50",
    "/ui/tools?q=generated+tool+4242",
    # The API's answers to the same questions, for comparison (JSON, no template).
    "/api/v1/tools?limit=25",
    "/api/v1/tools?q=generated+tool+4242&limit=25",
]


async def _database(admin_url: str) -> str:
    name = f"console_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    # postgresql://user@host/db?params -> the same URL naming the new database
    return re.sub(r"(postgres(?:ql)?://[^/]*/)([^?]*)", rf"\g<1>{name}", admin_url, count=1)


async def _sign_in(client: httpx.AsyncClient, runtime: Runtime) -> None:
    secret = (await runtime.keys.create(f"bench-{uuid.uuid4().hex[:6]}", Role.editor)).secret
    await client.get("/ui/login")
    data = {"key": secret, "csrf": client.cookies["tc_csrf"]}
    answer = await client.post("/ui/login", data=data)
    assert answer.status_code == 303, answer.text


async def _measure(
    client: httpx.AsyncClient, path: str, rounds: int, form: Any = None
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per request (a GET, or a POST of `form`). On a shared
    machine the wall clock carries the neighbours' load; this process's CPU time does not
    (nor PostgreSQL's work, which runs in its own processes)."""

    async def call() -> httpx.Response:
        if form is None:
            return await client.get(path)
        return await client.post(path, data=form, headers={"Origin": "http://bench"})

    for _ in range(3):  # warm-up: templates compiled, caches filled
        answer = await call()
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    times, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        await call()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return times, cpu


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def _report(path: str, times: list[float], cpu: list[float], size: int) -> float:
    p95 = _p95(times)
    print(
        f"  {path:<58} p50 {statistics.median(times):6.2f}  p95 {p95:6.2f}  "
        f"max {max(times):7.2f} ms | cpu p50 {statistics.median(cpu):5.2f} "
        f"p95 {_p95(cpu):5.2f} ms | {size / 1024:5.1f} KiB"
    )
    return p95


async def _pages(url: str, pages: list[str], rounds: int, setup: object) -> float:
    settings = Settings(
        database_url=url, import_on_start=False, catalog_dir=None, semantic=False,
        db_command_timeout_s=600,
    )  # fmt: skip
    worst = 0.0
    async with open_runtime(settings, listen=False) as runtime:
        await setup(runtime)  # type: ignore[operator]
        transport = httpx.ASGITransport(app=create_app(runtime), client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await _sign_in(client, runtime)
            for path in pages:
                times, cpu = await _measure(client, path, rounds)
                size = len((await client.get(path)).content)
                worst = max(worst, _report(path, times, cpu, size))
            if pages is STARTER_PAGES:
                posted = 0.0
                for path, tool, kind in POSTED_PAGES:
                    form = await _form_of(runtime, tool, kind, client.cookies["tc_csrf"])
                    times, cpu = await _measure(client, path, rounds, form)
                    posted = max(posted, _report(f"POST {path}", times, cpu, 0))
                # A posted form's CPU figure includes this client's encoding of its fields.
                print(f"  worst posted form p95: {posted:.2f} ms (the largest tool's form)")
    return worst


async def _form_of(runtime: Runtime, name: str, kind: str, csrf: str) -> dict[str, list[str]]:
    """The fields the editor posts for the tool `name`, unchanged: its YAML or its form."""
    tool = (await runtime.catalog.get_tool(name)).tool
    pairs = form_nodes(tool_document(tool)).posted() if kind == "form" else []
    if kind == "yaml":
        pairs = [("yaml", dump_tool(tool)), ("name", name)]
    fields: dict[str, list[str]] = {"csrf": [csrf], "action": ["validate"]}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


async def run(admin_url: str, catalog: Path, rounds: int, tools: int) -> None:
    folder = read_catalog_folder(catalog)

    async def starter(runtime: Runtime) -> None:
        await runtime.catalog.import_definitions(
            folder.tools, actor=Actor("bench"), vocabulary=folder.vocabulary,
            environments=folder.environments,
        )  # fmt: skip

    print(f"starter catalog ({len(folder.tools)} tools), {rounds} requests per page:")
    worst = await _pages(await _database(admin_url), STARTER_PAGES, rounds, starter)
    print(f"  worst page (GET) p95: {worst:.2f} ms (target <= 20 ms)")

    async def generated(runtime: Runtime) -> None:
        t0 = time.perf_counter()
        await runtime.catalog.import_definitions(generate(tools), actor=Actor("bench"))
        print(f"  (imported {tools} generated tools in {time.perf_counter() - t0:.1f} s)")

    print(f"{tools} generated tools, {max(rounds // 4, 20)} requests per page:")
    worst = await _pages(await _database(admin_url), TEN_K_PAGES, max(rounds // 4, 20), generated)
    print(f"  worst list page p95: {worst:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True, help="the starter catalog folder")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--tools", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(run(args.database_url, args.catalog, args.rounds, args.tools))
        return
    with tempfile.TemporaryDirectory(prefix="toolcatalog-bench-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pgdata", cleanup="delete")
        try:
            asyncio.run(run(server.start(), args.catalog, args.rounds, args.tools))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
