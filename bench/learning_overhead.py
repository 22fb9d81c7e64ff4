"""What learning costs a select (in process, lexical, starter catalog): p50/p95 of the same
requests with nothing learned, with every answer recorded (SelectionLog's queue), with
observed profiles for every pattern, with 10,000 labelled requests from feedback, with an
experiment running, and with all of them. Each case runs the same requests, interleaved
round by round so a busy machine hurts every case alike.

    python bench/learning_overhead.py [--catalog catalog] [--queries FILE.jsonl] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.model.telemetry import ObservedStats
from toolcatalog.selection.experiments import RunningExperiment, Variant, VariantConfig
from toolcatalog.selection.feedback import FeedbackMemory, LabelledExample
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, Weights
from toolcatalog.selection.profiles import ObservedProfiles
from toolcatalog.selection.selector import Selector
from toolcatalog.store.selections import SelectionRecord

ROOT = Path(__file__).resolve().parents[1]


def _stats(p50_ms: float) -> ObservedStats:
    """Telemetry's figures for a pattern: 100 runs, 90 successes, cost 2.0 each."""
    return ObservedStats(
        samples=100,
        successes=90,
        p50_ms=p50_ms,
        p95_ms=6000,
        mean_ms=p50_ms,
        cost_mean=2.0,
        cost_samples=100,
    )


class Queue:
    """SelectionLog.record without a database: the request path's whole share."""

    def __init__(self) -> None:
        self.rows: list[SelectionRecord] = []

    def record(self, row: SelectionRecord) -> None:
        self.rows.append(row)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog")
    parser.add_argument("--queries", type=Path, default=ROOT / "bench/data/heldout-queries.jsonl")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    texts = [json.loads(t)["query"] for t in args.queries.read_text().splitlines() if t.strip()]
    selector = Selector(FolderSource(args.catalog), Settings(semantic=False, llm_url=None))
    snapshot = selector.loader.snapshot()
    rng = random.Random(7)
    observed = ObservedProfiles(
        {
            (t.name, c.name, p.name): _stats(rng.uniform(10, 5000))
            for t in snapshot.tools
            for c in t.capabilities
            for p in c.patterns
        }
    )
    names = [t.name for t in snapshot.tools]
    memory = FeedbackMemory(
        LabelledExample(f"{rng.choice(texts)} {rng.choice(names)} {i}", rng.choice(names), True)
        for i in range(10_000)
    )
    experiment = RunningExperiment(
        "bench",
        (Variant(name="a"), Variant(name="b", config=VariantConfig(weights=Weights(speed=1)))),
    )

    def configure(case: str) -> None:
        every = case == "all"
        selector.recorder = Queue() if case == "recorded" or every else None
        selector.observed = observed if case == "observed profiles" or every else None
        selector.memory = memory if case == "10,000 feedback examples" or every else None
        selector.experiment = experiment if case == "experiment" or every else None

    cases = ["nothing learned", "recorded", "observed profiles", "10,000 feedback examples",
             "experiment", "all"]  # fmt: skip
    times: dict[str, list[float]] = {c: [] for c in cases}
    for case in cases:  # warm every case's caches once
        configure(case)
        for text in texts:
            selector.select(SelectionRequest(request=text, session_id="warm"))
    for r in range(args.rounds):
        for case in cases:
            configure(case)
            for k, text in enumerate(texts):
                request = SelectionRequest(request=f"{text} r{r}", session_id=f"s{k}")
                started = time.perf_counter()
                selector.select(request)
                times[case].append((time.perf_counter() - started) * 1000)
    for case in cases:
        samples = sorted(times[case])
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(f"{case:26} p50 {statistics.median(samples):6.2f} ms  p95 {p95:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
