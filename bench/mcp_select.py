"""What selecting through MCP costs over POST /api/v1/select: the same requests, one at a
time, against one real `toolcatalog serve` (embedded PostgreSQL, starter catalog), through
httpx to /api/v1/select and through the official SDK's client (Streamable HTTP) to /mcp's
select_tool. Prints p50/p95 of each and the difference of the medians.

    python bench/mcp_select.py [--rounds 200] [--semantic]

First run (2026-12-02, shared 2-core VM, lexical, 200 requests each): POST /api/v1/select
p50 3.70 ms / p95 8.50 ms; MCP select_tool p50 7.11 ms / p95 13.53 ms: +3.4 ms at the median.
Analysed: most of it was the SDK client checking each answer against select_tool's output
schema with jsonschema (5.7-8.9 ms a call for SelectionResult's full 12.4 KB schema), then
the SDK server re-validating the answer and /mcp being the last of ~25 routes matched.
After the shallow inlined output schema (0.4 ms to check), no re-validation and /mcp first
(same machine, same hour, heavily loaded by other work, 300 requests, --rounds 300):
before +4.3 / +4.8 ms (median of paired differences), after +0.5 / +1.2 / +1.3 / +2.9 ms;
in process (ASGI, no network), the server side alone went from +0.77 to +0.40 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from mcp import Client
from servers import embedded_database, toolcatalog_server

QUERIES = [
    "why is / full on db2",
    "which process is eating memory on web01",
    "restart nginx on the load balancer",
    "is port 443 open on api.example.com",
    "show the last 100 lines of the app log",
]


def _figures(name: str, times: list[float]) -> float:
    ms = sorted(t * 1000 for t in times)
    p50 = statistics.median(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<22} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ({len(ms)} requests)")
    return p50


async def _measure(base: str, rounds: int) -> None:
    rest: list[float] = []
    over_mcp: list[float] = []
    async with httpx.AsyncClient(base_url=base) as http, Client(base + "/mcp") as client:
        for i in range(rounds + 10):  # the first 10 of each warm up, not counted
            query = QUERIES[i % len(QUERIES)]
            started = time.perf_counter()
            response = await http.post("/api/v1/select", json={"request": query})
            response.raise_for_status()
            if i >= 10:
                rest.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await client.call_tool("select_tool", {"request": query})
            assert not result.is_error, result.content
            if i >= 10:
                over_mcp.append(time.perf_counter() - started)
    a = _figures("POST /api/v1/select", rest)
    b = _figures("MCP select_tool", over_mcp)
    print(f"MCP costs {b - a:+.2f} ms at the median")
    # Each MCP call follows its REST twin, so the pair shares the machine's load of the moment:
    # the median of the pairs' differences stays readable on a busy machine.
    paired = statistics.median((m - r) * 1000 for m, r in zip(over_mcp, rest, strict=True))
    print(f"MCP costs {paired:+.2f} ms, median of the paired differences")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--semantic", action="store_true", help="keep semantic retrieval on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = {} if args.semantic else {"semantic": "false"}
        with (
            embedded_database(folder) as url,
            toolcatalog_server(
                url, folder / "home", 1, folder, access_log="false", **settings
            ) as target,
        ):
            asyncio.run(_measure(target.url, args.rounds))


if __name__ == "__main__":
    main()
