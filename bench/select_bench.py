"""Select latency (p50/p95, in process) on the starter catalog and on a generated 10,000-tool
catalog, lexical and with semantic retrieval (the default), index build time (cold, and a warm
rebuild as after a hot reload), tool embedding time, and `/api/v1/select` HTTP throughput
against a real `toolcatalog serve`.

    python bench/select_bench.py [--catalog catalog] [--tools 10000] [--queries FILE.jsonl]
        [--rounds 3] [--no-semantic] [--terse 6608] [--scale 100000] [--http SECONDS]
        [--connections 8]
    python bench/select_bench.py --writes 20 [--tools 10000] [--no-semantic]
    python bench/select_bench.py --baseline-src /tmp/base/src [any of the above]

`--writes N` measures only the selection index's update after each of N one-tool writes
(CPU of the building thread), on the starter and the generated catalog; run it with
PYTHONPATH=OTHER/src for another checkout's figures.

The generated tools reuse the starter catalog's wording, shuffled and renamed, so the index
has a realistic vocabulary and posting lengths. LLM tie-breaks are off.

Semantic figures: "new requests" are requests the query cache has not seen (each round adds a
suffix), "repeated" ones are answered from it. The starter catalog's tool texts are really
embedded (into a temporary home, so the time is a cold start's). Embedding the generated
catalog's ~72,000 texts takes minutes and its word salad means nothing, so there a text's
vector is the normalised sum of its words' real embeddings while requests are really encoded:
the latency is real (the encoder, the cosine scan over every text vector and the exact
scores of the tools it leaves in doubt), the rankings are not.

`--scale N` adds lexical selects over N tools of bench/import_bench.py's generator, the
catalog bench/scale.py serves (every tool holds the words "generated" and "tool", so those
postings cover the whole catalog), with scale.py's request first.

`--terse N` adds a catalog of N terse tools (bench/terse.py: a name and a one-sentence
description, as a public tool list arrives; 6,608 is the tldr pages' count) whose ~2 N texts
are really embedded, cold: "embeddings" is the wait a user importing such a catalog sees
before selection turns hybrid, "all" the time until the description clauses that come after
are in too (semantic.py), each with the process's CPU until then (on a shared machine the
steadier figure: the wall is that CPU over the cores the bench had). Selects are timed once
all are in.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from terse import generated_terse

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.encoders.minilm import Array
from toolcatalog.selection.encoders.onnx import OnnxMiniLMEncoder, onnx_available
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.retrieval import CatalogIndex
from toolcatalog.selection.selector import Selector

try:
    from toolcatalog.selection.semantic_engine import SemanticEngine
except ImportError:  # a tree before session 12 (--baseline-src)
    from toolcatalog.selection.semantic import SemanticEngine  # type: ignore[attr-defined,no-redef]
from toolcatalog.selection.text import clear_caches

FALLBACK_QUERIES = [
    "why is / full on db2",
    "which process is eating memory on web01",
    "restart nginx on the load balancer",
    "is port 443 open on api.example.com",
    "show the last 100 lines of the app log",
]


# bench/scale.py's select request: three of its words are in every generated tool.
SCALE_REQUEST = "check disk usage with generated tool 4242"


class StaticSource:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.snapshot_value = snapshot

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.snapshot_value

    def snapshot(self) -> CatalogSnapshot:
        return self.snapshot_value

    def peek_snapshot(self) -> CatalogSnapshot:
        """As the catalog service: the current snapshot without I/O, so a select does not
        pass through the ProfileLoader (the per-request path measured is the service's)."""
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


def terse_snapshot(base: CatalogSnapshot, count: int) -> CatalogSnapshot:
    tools = tuple(Tool.model_validate(d) for d in generated_terse(base, count))
    return CatalogSnapshot(tools, 1, datetime.now(UTC), None, "terse")


def build_times(snapshot: CatalogSnapshot, repeats: int = 3) -> tuple[float, float]:
    """Median seconds of a cold build (tokeniser caches cleared) and of a warm rebuild (the
    next generation of a catalog the process has indexed before: what a hot reload costs)."""
    cold, warm = [], []
    for _ in range(repeats):
        clear_caches()
        started = time.perf_counter()
        CandidateEnumerator(CatalogIndex(snapshot))
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        CandidateEnumerator(CatalogIndex(replace(snapshot, generation=snapshot.generation + 1)))
        warm.append(time.perf_counter() - started)
    return statistics.median(cold), statistics.median(warm)


Samples = tuple[list[float], list[float], list[float]]


def latencies(selector: Selector, queries: list[str], rounds: int) -> Samples:
    """Each select's wall time, the CPU time of the thread that ran it and the process's CPU
    time meanwhile (ms). On a shared machine CPU time is the steadier figure: it leaves out
    the time spent waiting for a core; the process's also counts any helper thread's work
    (the background embedding is done before selects are timed)."""
    wall, cpu, process = [], [], []
    for _ in range(rounds):
        for q in queries:
            t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
            selector.select(SelectionRequest(request=q, top_k=5))
            cpu.append((time.thread_time() - c0) * 1000)
            process.append((time.process_time() - p0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
    return wall, cpu, process


def _p95(ordered: list[float]) -> float:
    return ordered[max(int(len(ordered) * 0.95) - 1, 0)]


def summary(samples: Samples) -> str:
    wall, cpu, process = (sorted(s) for s in samples)
    return (
        f"select p50 {statistics.median(wall):6.2f} ms  p95 {_p95(wall):6.2f} ms  "
        f"(cpu {statistics.median(cpu):5.2f} / {_p95(cpu):5.2f}, process "
        f"{statistics.median(process):5.2f} / {_p95(process):5.2f})  ({len(wall)} selects)"
    )


def measure(name: str, snapshot: CatalogSnapshot, queries: list[str], rounds: int) -> None:
    cold, warm = build_times(snapshot)
    selector = Selector(StaticSource(snapshot), Settings(llm_url=None, semantic=False))
    for q in queries[:5]:
        selector.select(SelectionRequest(request=q))  # build and warm
    print(
        f"{name:>10}: {len(snapshot.tools):>6} tools  index build {cold * 1000:6.0f} ms cold, "
        f"{warm * 1000:6.0f} ms rebuild  lexical   {summary(latencies(selector, queries, rounds))}"
    )


def semantic_latencies(
    selector: Selector, queries: list[str], rounds: int
) -> tuple[Samples, Samples]:
    wall: list[float] = []
    cpu: list[float] = []
    process: list[float] = []
    for r in range(rounds):  # a suffix per round: every request is new to the query cache
        w, c, p = latencies(selector, [f"{q} ({r})" for q in queries], 1)
        wall, cpu, process = wall + w, cpu + c, process + p
    repeated = latencies(selector, [f"{q} ({rounds - 1})" for q in queries], 1)
    return (wall, cpu, process), repeated


def measure_semantic(
    name: str, snapshot: CatalogSnapshot, queries: list[str], rounds: int, random: bool
) -> None:
    with tempfile.TemporaryDirectory() as home:
        engine = None
        if random:
            engine = SemanticEngine(Path(home), load=WordSumEncoder)
        started, cpu = time.perf_counter(), time.process_time()
        selector = Selector(
            StaticSource(snapshot),
            Settings(llm_url=None, semantic=True, home=Path(home)),
            engine=engine,
        )
        try:
            ready = selector.wait_for_semantic(3600, complete=False)
        except TypeError:  # a tree before session 12: every text is in once ready
            ready = selector.wait_for_semantic(3600)
        hybrid, hybrid_cpu = time.perf_counter() - started, time.process_time() - cpu
        if not ready or not selector.wait_for_semantic(3600):
            print(f"  semantic: unavailable ({selector.semantic_status})")
            return
        embedded, embedded_cpu = time.perf_counter() - started, time.process_time() - cpu
        # The process's CPU beside each wall: on a shared machine the wall is CPU / cores had.
        what = (
            f"embeddings {hybrid:5.1f} s (CPU {hybrid_cpu:4.1f}), "
            f"all {embedded:5.1f} s (CPU {embedded_cpu:4.1f})"
        )
        what = "word-sum vectors" if random else what
        selector.select(SelectionRequest(request="warm up"))
        new, repeated = semantic_latencies(selector, queries, rounds)
        head = f"{name:>10}: {len(snapshot.tools):>6} tools  {what:<33}  "
        print(
            f"{head}new requests {summary(new)}\n{'':>{len(head)}}repeated     {summary(repeated)}"
        )


class WordSumEncoder(OnnxMiniLMEncoder):
    """The real encoder for requests; for catalog texts, the normalised sum of the real
    embeddings of their words (each word encoded once): minutes less than encoding 50,000
    texts, and cosines with requests distributed as real ones are (a request is near the texts
    that share its words and topics), which the scan's exactness checks depend on."""

    name = "bench-word-sums"

    def __init__(self, folder: Path | None = None, cache_dir: Path | None = None) -> None:
        super().__init__(folder, cache_dir)
        self._words: dict[str, Array] = {}

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> Array:
        split = [re.findall(r"[a-z0-9]+", t.lower()) or ["empty"] for t in texts]
        missing = sorted({w for words in split for w in words} - self._words.keys())
        if missing:
            self._words.update(zip(missing, super().encode(missing), strict=True))
        out = np.stack([np.sum([self._words[w] for w in words], axis=0) for words in split])
        normed: Array = (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)
        return normed


def written(snapshot: CatalogSnapshot, k: int) -> CatalogSnapshot:
    """The snapshot after an update of one tool's description, the others the same objects
    (as a catalog version hands them on)."""
    tools = list(snapshot.tools)
    at = (k * 7919) % len(tools)
    tools[at] = tools[at].model_copy(update={"description": f"{tools[at].description} v{k}"})
    return replace(snapshot, tools=tuple(tools), generation=snapshot.generation + 1)


def measure_writes(name: str, snapshot: CatalogSnapshot, writes: int, semantic: bool) -> None:
    """The selection index's update after each of `writes` one-tool writes, as the service's
    selector makes it beside the loop (`_build_beside`): CPU seconds of the building thread
    (median, max) and wall time. With `semantic`, the embeddings too (the starter catalog's
    real ones; word-sum vectors for a generated catalog, see WordSumEncoder), after every
    tool's are in."""
    with tempfile.TemporaryDirectory() as home:
        source = StaticSource(snapshot)
        engine = None
        if semantic and name != "starter":
            engine = SemanticEngine(Path(home), load=WordSumEncoder)
        settings = Settings(llm_url=None, semantic=semantic, home=Path(home))
        selector = Selector(source, settings, engine=engine)
        if semantic and not selector.wait_for_semantic(3600):
            print(f"  writes: semantic unavailable ({selector.semantic_status})")
            return
        selector.select(SelectionRequest(request="warm up"))
        cpu, wall = [], []
        for k in range(writes):
            source.snapshot_value = snapshot = written(snapshot, k)
            started, thread = time.perf_counter(), time.thread_time()
            selector._build_beside(snapshot)
            cpu.append(time.thread_time() - thread)
            wall.append(time.perf_counter() - started)
        kind = "hybrid" if semantic else "lexical"
        print(
            f"{name:>10}: {len(snapshot.tools):>6} tools  index update per write ({kind}): "
            f"CPU median {statistics.median(cpu) * 1000:7.1f} ms, max {max(cpu) * 1000:7.1f} ms;"
            f" wall median {statistics.median(wall) * 1000:7.1f} ms ({writes} writes)"
        )


def measure_http(queries: list[str], seconds: float, connections: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from drivers import Op, run_python
    from servers import embedded_database, toolcatalog_server

    ops = [
        Op(
            "select",
            "POST",
            "/api/v1/select",
            1,
            body=json.dumps({"request": q}),
            headers={"Content-Type": "application/json"},
        )
        for q in queries
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (
            embedded_database(folder) as url,
            toolcatalog_server(url, folder / "home", 1, folder, access_log="false") as target,
        ):
            run_python(target.url, ops, connections=connections, seconds=2)  # warm up
            m = run_python(target.url, ops, connections=connections, seconds=seconds)
    print(
        f"      http: POST /api/v1/select  {m.rps:7.0f} req/s  p50 {m.p50_ms:6.2f} ms  "
        f"p95 {m.p95_ms:6.2f} ms  errors {m.errors}  ({connections} connections, 1 worker, "
        f"{m.client} on the same 2 cores)"
    )


def interleaved(baseline: Path, argv: list[str]) -> int:
    """This bench with `argv` (less --baseline-src) in child processes, alternately on
    `baseline`'s code and on ours, twice each; the uptime load before each."""
    rest, skip = [], False
    for arg in argv:
        if skip or arg == "--baseline-src":
            skip = not skip
            continue
        if not arg.startswith("--baseline-src="):
            rest.append(arg)
    ours = Path(__file__).resolve().parent.parent / "src"
    for turn in range(4):
        name, src = ("base", baseline.resolve()) if turn % 2 == 0 else ("ours", ours)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"--- {name} ({src}), load {load}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(src)}
        code = subprocess.run([sys.executable, __file__, *rest], env=env, check=False).returncode
        if code:
            return code
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--tools", default=10_000, type=int)
    parser.add_argument("--queries", type=Path, default=Path("bench/data/heldout-queries.jsonl"))
    parser.add_argument("--rounds", default=3, type=int)
    parser.add_argument(
        "--no-semantic", action="store_true", help="skip the semantic figures (lexical only)"
    )
    parser.add_argument(
        "--terse", default=0, type=int, help="also a catalog of this many terse tools, embedded"
    )
    parser.add_argument(
        "--scale",
        default=0,
        type=int,
        help="also lexical selects on this many tools of bench/import_bench's generator "
        "(bench/scale.py's catalog: every tool shares 'generated tool')",
    )
    parser.add_argument("--http", default=0.0, type=float, help="seconds of /select load")
    parser.add_argument("--connections", default=8, type=int)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="run the whole bench twice on this checkout's src and on ours, alternately "
        "(base, ours, base, ours): before and after under the same load",
    )
    parser.add_argument(
        "--writes",
        default=0,
        type=int,
        help="only the selection index's update per one-tool write, over this many writes",
    )
    args = parser.parse_args(argv)
    if args.baseline_src is not None:
        return interleaved(args.baseline_src, sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.ERROR)
    queries = FALLBACK_QUERIES
    if args.queries.is_file():
        queries = [
            json.loads(line)["query"]
            for line in args.queries.read_text().splitlines()
            if line.strip()
        ]
    starter = load_folder_snapshot(args.catalog, strict=False)
    if args.writes:
        semantic = not args.no_semantic and onnx_available()
        for name, snapshot in [("starter", starter), ("generated", generated(starter, args.tools))]:
            measure_writes(name, snapshot, args.writes, False)
            if semantic:
                measure_writes(name, snapshot, args.writes, True)
        return 0
    measure("starter", starter, queries, args.rounds)
    semantic = not args.no_semantic and onnx_available()
    if not args.no_semantic and not semantic:
        print("  semantic: skipped (needs the embeddings extra: onnxruntime, onnx)")
    if semantic:
        measure_semantic("starter", starter, queries, args.rounds, random=False)
    if args.tools:
        big = generated(starter, args.tools)
        measure("generated", big, queries, 1)
        if semantic:
            measure_semantic("generated", big, queries, 1, random=True)
    if args.terse:
        terse = terse_snapshot(starter, args.terse)
        measure("terse", terse, queries, args.rounds)
        if semantic:
            measure_semantic("terse", terse, queries, args.rounds, random=False)
    if args.scale:
        from import_bench import generate

        tools = tuple(generate(args.scale))
        scaled = CatalogSnapshot(tools, 1, datetime.now(UTC), starter.vocabulary, "scale")
        measure("scale", scaled, [SCALE_REQUEST, *queries], 1)
    if args.http > 0:
        measure_http(queries, args.http, args.connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
