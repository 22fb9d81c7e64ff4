"""Pre-fill a home's embedding cache for N generated tools, so that `bench/scale.py --semantic
--home HOME` measures a start "with embeddings cached" without first embedding every text
(~10 minutes of CPU at 100,000 tools on 2 cores).

    python bench/prefill_embeddings.py --tools 100000 --home /tmp/scale-home
    python bench/scale.py --tools 100000 --semantic -d 2 --restart --home /tmp/scale-home

The vectors are random unit vectors, written under the real encoder's name for every distinct
text of the generated catalog (bench/import_bench.py's generator, the same tools scale.py
imports): what a start reads, keeps in memory and scans does not depend on the values, so its
time and memory are those of a real cache. Selection answers from such a home are meaningless;
use it for scale figures only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from import_bench import generate

from toolcatalog.selection.cache_file import MappedRows, write_rows
from toolcatalog.selection.cache_log import log_path
from toolcatalog.selection.embedding_cache import _key
from toolcatalog.selection.encoders.onnx import load_fast_encoder
from toolcatalog.selection.semantic import SemanticIndex
from toolcatalog.selection.text_vectors import TextVectors


def prefill(tools: int, home: Path, seed: int = 1) -> tuple[Path, int]:
    """Write HOME/embeddings/<encoder>.npz with a vector for each distinct text of `tools`
    generated tools; returns the file and how many texts it holds."""
    encoder = load_fast_encoder(cache_dir=home / "models")
    index = SemanticIndex(generate(tools))
    texts = TextVectors.distinct(index.layout)
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(texts), encoder.dimensions), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    path = home / "embeddings" / f"{encoder.name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rows(path, [_key(text) for text in texts], np.arange(len(texts)), MappedRows(vectors), [])
    log_path(path).unlink(missing_ok=True)  # a side file of an earlier run's: not these vectors
    return path, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", type=int, default=100_000)
    parser.add_argument("--home", type=Path, required=True, help="the TOOLCATALOG_HOME to fill")
    args = parser.parse_args()
    started = time.perf_counter()
    path, count = prefill(args.tools, args.home)
    print(
        f"{count:,} texts of {args.tools:,} tools in {path} ({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
