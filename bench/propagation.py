"""How long a write through one replica takes to show through another: two `toolcatalog
serve` processes on one PostgreSQL; PUT through A, then GET through B until it shows.

    python bench/propagation.py [--writes 50]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from servers import create_api_key, embedded_database, toolcatalog_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="toolcatalog-propagation-"))
    (work / "logs").mkdir()
    with (
        embedded_database(work) as url,
        toolcatalog_server(url, work / "home", 1, work / "logs", access_log="false") as a,
        toolcatalog_server(url, work / "home", 1, work / "logs", access_log="false") as b,
    ):
        key = create_api_key(url, f"propagation_{secrets.token_hex(3)}")
        auth = {"Authorization": f"Bearer {key}"}
        current = httpx.get(f"{a.url}/api/v1/tools/grep")
        doc, etag = current.json(), current.headers["etag"]
        seen: list[float] = []
        with httpx.Client(timeout=10) as client:
            for i in range(args.writes):
                client.get(f"{b.url}/api/v1/tools/grep")  # make sure b has it cached
                text = f"propagation {i}"
                put = client.put(
                    f"{a.url}/api/v1/tools/grep",
                    json=doc | {"description": text},
                    headers=auth | {"If-Match": etag},
                )
                put.raise_for_status()
                etag = put.headers["etag"]
                committed = time.perf_counter()  # the PUT answered: committed and notified
                while client.get(f"{b.url}/api/v1/tools/grep").json()["description"] != text:
                    if time.perf_counter() - committed > 10:
                        raise SystemExit(f"write {i} not visible through B after 10 s")
                seen.append(time.perf_counter() - committed)
    seen.sort()
    ms = [1000 * s for s in seen]
    print(
        f"{len(ms)} writes through A, visible through B after: p50 {statistics.median(ms):.1f} ms, "
        f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms (target <= 1000 ms)"
    )


if __name__ == "__main__":
    main()
