"""How long a write through one replica takes to show through another: two `toolcatalog
serve` processes on one PostgreSQL; PUT through A, then GET through B until it shows. Then
the same for API key revocations: revoke through A, then GET with the key through B (which
had verified it) until it answers 401.

    python bench/propagation.py [--writes 50] [--revocations 20]
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
    parser.add_argument("--revocations", type=int, default=20)
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
        admin = {"Authorization": f"Bearer {create_api_key(url, 'bench_admin', 'admin')}"}
        revoked = _revocations(a.url, b.url, admin, args.revocations)
    _report(f"{len(seen)} writes through A, visible through B after", seen)
    _report(f"{len(revoked)} key revocations through A, refused by B after", revoked)


def _revocations(a: str, b: str, admin: dict[str, str], n: int) -> list[float]:
    seen: list[float] = []
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            name = f"leaver_{i}_{secrets.token_hex(2)}"
            made = client.post(f"{a}/api/v1/keys", json={"name": name, "role": "reader"},
                               headers=admin)  # fmt: skip
            made.raise_for_status()
            key = {"Authorization": f"Bearer {made.json()['key']}"}
            client.get(f"{b}/api/v1/tools/grep", headers=key).raise_for_status()  # b knows it
            client.delete(f"{a}/api/v1/keys/{name}", headers=admin).raise_for_status()
            revoked = time.perf_counter()
            while client.get(f"{b}/api/v1/tools/grep", headers=key).status_code != 401:
                if time.perf_counter() - revoked > 10:
                    raise SystemExit(f"revocation {i} not seen by B after 10 s")
            seen.append(time.perf_counter() - revoked)
    return seen


def _report(what: str, seconds: list[float]) -> None:
    ms = sorted(1000 * s for s in seconds)
    print(
        f"{what}: p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, "
        f"max {ms[-1]:.1f} ms (target <= 1000 ms)"
    )


if __name__ == "__main__":
    main()
