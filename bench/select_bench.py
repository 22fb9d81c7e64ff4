"""In-process select latency (p50/p95) on the starter catalog and on a generated 10,000-tool
catalog, and the index build time for each (what a hot reload costs).

    python bench/select_bench.py [--catalog catalog] [--tools 10000] [--queries FILE.jsonl]

The generated tools reuse the starter catalog's wording, shuffled and renamed, so the index
has a realistic vocabulary and posting lengths. LLM tie-breaks are off.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.retrieval import CatalogIndex
from toolcatalog.selection.selector import Selector

FALLBACK_QUERIES = [
    "why is / full on db2",
    "which process is eating memory on web01",
    "restart nginx on the load balancer",
    "is port 443 open on api.example.com",
    "show the last 100 lines of the app log",
]


class StaticSource:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.snapshot_value = snapshot

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.snapshot_value

    def snapshot(self) -> CatalogSnapshot:
        return self.snapshot_value


def generated(base: CatalogSnapshot, count: int, seed: int = 7) -> CatalogSnapshot:
    rng = random.Random(seed)
    words = " ".join(t.description for t in base.tools).split()
    tools = []
    for n in range(count):
        doc = rng.choice(base.tools).model_dump(mode="json", exclude_none=True)
        doc["name"] = f"gen_{n:05d}_{doc['name']}"[:64]
        doc["description"] = " ".join(rng.sample(words, 40))
        doc["examples"] = [" ".join(rng.sample(words, 9)) for _ in range(4)]
        tools.append(Tool.model_validate(doc))
    return CatalogSnapshot(tuple(tools), 1, datetime.now(UTC), base.vocabulary, "generated")


def measure(name: str, snapshot: CatalogSnapshot, queries: list[str], rounds: int) -> None:
    started = time.perf_counter()
    CandidateEnumerator(CatalogIndex(snapshot))
    build = time.perf_counter() - started
    selector = Selector(StaticSource(snapshot), Settings(llm_url=None))
    for q in queries[:5]:
        selector.select(SelectionRequest(request=q))  # build and warm
    samples = []
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            selector.select(SelectionRequest(request=q, top_k=5))
            samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(
        f"{name:>10}: {len(snapshot.tools):>6} tools  index build {build * 1000:7.0f} ms  "
        f"select p50 {statistics.median(samples):6.2f} ms  p95 {p95:6.2f} ms  "
        f"({len(samples)} selects)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--tools", default=10_000, type=int)
    parser.add_argument("--queries", type=Path, default=Path("../shared/data/dev-queries.jsonl"))
    parser.add_argument("--rounds", default=3, type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    queries = FALLBACK_QUERIES
    if args.queries.is_file():
        queries = [
            json.loads(line)["query"]
            for line in args.queries.read_text().splitlines()
            if line.strip()
        ]
    starter = load_folder_snapshot(args.catalog, strict=False)
    measure("starter", starter, queries, args.rounds)
    measure("generated", generated(starter, args.tools), queries, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
