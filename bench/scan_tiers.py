"""Which tiers of the cosine scan each select reads, and how many rows (issue #14: a select
that falls back to the whole exact scan reads every float32 row of the mapped matrix, which
then counts in the worker's resident memory). bench/import_bench.py's generated catalog (what
bench/scale.py imports), the held-out requests and scale.py's own, one select each, in process:

    python bench/scan_tiers.py --tools 20000 --home H [--vectors random|words] [--requests 40]

`random`: H's cache pre-filled with random unit vectors (bench/prefill_embeddings.py, run
here when H has none; cosines near 0); `words`: bench/select_bench.py's word-sum vectors
(cosines spread as real ones are), cached under H. Prints per request the select's thread
CPU and the reads in order: `exact N` (N rows of the exact tier), `finer N` (the second
level), `WHOLE N` (the whole exact scan), and the count of requests with a whole scan.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import select_bench as sb
from import_bench import generate
from prefill_embeddings import prefill

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection import cosine_scan
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine

HERE = Path(__file__).resolve().parent
SCALE_REQUEST = "check disk usage with generated tool 4242"  # bench/scale.py's select


def counted(reads: list[str]) -> None:
    """Count every read of the exact tier and of the second level into `reads`."""
    exact: Callable[..., Any] = cosine_scan.CosineScan.exact
    finer: Callable[..., Any] = cosine_scan.Cosines.finer

    def counted_exact(scan: Any, query: Any, rows: Any = None) -> Any:
        reads.append(f"WHOLE {scan.rows}" if rows is None else f"exact {len(rows)}")
        return exact(scan, query, rows)

    def counted_finer(cosines: Any, rows: Any) -> Any:
        reads.append(f"finer {len(rows)}")
        return finer(cosines, rows)

    cosine_scan.CosineScan.exact = counted_exact  # type: ignore[method-assign]
    cosine_scan.Cosines.finer = counted_finer  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", type=int, default=20_000)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--vectors", choices=("random", "words"), default="random")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    engine = None
    if args.vectors == "random" and not (args.home / "embeddings").exists():
        prefill(args.tools, args.home)
    elif args.vectors == "words":
        engine = SemanticEngine(args.home / "words", load=sb.WordSumEncoder)
    tools = tuple(generate(args.tools))
    snapshot = CatalogSnapshot(tools, 1, datetime.now(UTC), None, "generated")
    settings = Settings(llm_url=None, semantic=True, home=args.home, select_answers_max_bytes=0)
    selector = Selector(sb.StaticSource(snapshot), settings, engine=engine)  # type: ignore[arg-type]
    if not selector.wait_for_semantic(3600):
        raise SystemExit("semantic retrieval unavailable")
    held_out = (HERE / "data" / "heldout-queries.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [SCALE_REQUEST, *(json.loads(line)["query"] for line in held_out if line.strip())]
    reads: list[str] = []
    counted(reads)
    whole = 0
    for text in texts[: args.requests + 1]:
        reads.clear()
        started = time.thread_time()
        selector.select(SelectionRequest(request=text, top_k=5))
        spent = (time.thread_time() - started) * 1000
        whole += any(read.startswith("WHOLE") for read in reads)
        print(f"{spent:6.1f} ms  {text[:48]!r:52} {', '.join(reads)}")
    print(f"{whole} of {min(len(texts), args.requests + 1)} selects scanned every row exactly")


if __name__ == "__main__":
    main()
