"""What keeping a write's new embeddings costs the process at scale: a cache file of N rows
(random unit vectors of 384 floats, 600,000 rows is 100,000 generated tools), then writes of a
few new texts each, as a service's writes embed them. Per write: the write's own wait (the
`embed` call), the CPU of whatever keeps the vectors (the embedding cache's save, in the
caller or in its thread beside), and the longest a thread beside (a 1 ms ticker, as the
server's event loop) waited for the GIL meanwhile. Then a fold (the whole rewrite, which now
only a start, an import or a prune pays).

    python bench/cache_write.py --rows 600000 --rounds 3 --baseline-src /tmp/base/src

Each tree runs in its own process, interleaved round by round. The encoder is a stub (random
vectors): what is measured is the cache, not the model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

SIZE = 384
TEXTS_A_WRITE = 6  # a generated tool's distinct texts


class Ticker:
    """A thread sleeping 1 ms at a time; `longest` is the longest it went without running."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(rows: int, writes: int) -> dict[str, Any]:
    """One tree's figures (run in a process of its own, with that tree on sys.path)."""
    import toolcatalog.selection.embedding_cache as cache_module
    from toolcatalog.selection.cache_file import MappedRows, write_rows
    from toolcatalog.selection.embedding_cache import EmbeddingCache
    from toolcatalog.selection.encoders.minilm import MiniLMEncoder

    class Random(MiniLMEncoder):
        hidden = SIZE

        def __init__(self) -> None:  # no model
            self.rng = np.random.default_rng(1)

        def encode(self, texts: Any, batch_size: int | None = None) -> np.ndarray:
            v = self.rng.standard_normal((len(texts), SIZE)).astype(np.float32)
            out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
            return out

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as folder:
        path = Path(folder) / "e.npz"
        rng = np.random.default_rng(0)
        vectors = rng.standard_normal((rows, SIZE), dtype=np.float32)
        keys = [i.to_bytes(16, "big") for i in range(rows)]
        write_rows(path, keys, np.arange(rows), MappedRows(vectors), [])
        del vectors
        cache = EmbeddingCache(path)
        # Every write is the first 30 s after the last save (the base saves beside then).
        cache_module.SAVE_EVERY_S = 0.0
        saves: list[float] = []
        real_save: Callable[[], None] = cache._save

        def timed_save() -> None:
            started = time.thread_time()
            real_save()
            saves.append(time.thread_time() - started)

        cache._save = timed_save  # type: ignore[method-assign]
        encoder = Random()
        out: dict[str, list[float]] = {"wait": [], "cpu": [], "stall": []}
        for write in range(writes):
            texts = [f"write {write} text {i}" for i in range(TEXTS_A_WRITE)]
            saves.clear()
            with Ticker() as ticker:
                started, cpu = time.perf_counter(), time.thread_time()
                cache.embed(encoder, texts)
                wait, own = time.perf_counter() - started, time.thread_time() - cpu
                beside = getattr(cache, "_saving", None)
                if beside is not None:
                    beside.join()
                    cache._saving = None
            out["wait"].append(wait * 1000)
            out["cpu"].append((own + sum(saves)) * 1000)
            out["stall"].append(ticker.longest * 1000)
        with Ticker() as ticker:
            started, cpu = time.perf_counter(), time.thread_time()
            real_save()
            fold = [(time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000]
        return {
            **{k: median(v) for k, v in out.items()},
            "worst stall": max(out["stall"]),
            "fold wall": fold[0],
            "fold cpu": fold[1],
            "fold stall": ticker.longest * 1000,
        }


def run(src: Path, rows: int, writes: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = f"import json, cache_write; print(json.dumps(cache_write.measure({rows}, {writes})))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": f"{src}{os.pathsep}{Path(__file__).parent}"},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--writes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-src", type=Path)
    args = parser.parse_args()
    ours = Path(__file__).resolve().parent.parent / "src"
    trees = {"base": args.baseline_src, "ours": ours} if args.baseline_src else {"ours": ours}
    print(f"{args.rows:,} rows, {args.writes} writes of {TEXTS_A_WRITE} texts; times in ms")
    print("write's wait / keeping CPU / stall beside (median, worst) | fold wall / CPU / stall")
    for round_ in range(args.rounds):
        for name, src in trees.items():
            r = run(src, args.rows, args.writes)
            load = os.getloadavg()[0]
            print(
                f"round {round_ + 1} {name:5} {r['wait']:8.1f} {r['cpu']:8.1f} "
                f"{r['stall']:8.1f} {r['worst stall']:8.1f} | {r['fold wall']:8.0f} "
                f"{r['fold cpu']:8.0f} {r['fold stall']:8.0f}   load {load:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
