"""One select's CPU and the process's peak memory for hostile requests of the largest size a
request may be (4,000 characters): long words, identifiers, chains, paths.

    python bench/hostile_select.py [--catalog catalog] [--full]

The starter catalog reduced to names and descriptions (as `select_quality.py --terse`; its
everyday tests are on) unless `--full`. Thread CPU of one select each, after one warm-up;
the peak RSS (ru_maxrss) after it, so a request that once raised it shows in every later row.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

from select_quality import TerseSource, _request

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.selector import Selector

MAX_REQUEST = 4000
SHAPES = {
    "one word, a x 4000": "a" * MAX_REQUEST,
    "camel case, aB x 2000": "aB" * 2000,
    "words run together, abcDef x 666": "abcDef" * 666,
    "capitals, A x 4000": "A" * MAX_REQUEST,
    "my dog + a x 3993": "my dog " + "a" * 3993,
    "20 words of 199 letters": " ".join(["x" * 199] * 20),
    "hyphen chain, dog- x 1000": "dog-" * 1000,
    "dotted, a.b x 1333": "a.b" * 1333,
    "path, /ab x 1333": "/ab" * 1333,
    "typos, memroy x 570": "memroy " * 570,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--full", action="store_true", help="the catalog with its examples")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    folder = FolderSource(args.catalog, strict=False)
    selector = Selector(folder if args.full else TerseSource(folder), Settings(llm_url=None))
    if not selector.wait_for_semantic():
        raise SystemExit(f"semantic retrieval unavailable: {selector.semantic_status}")
    selector.select(_request({"query": "which process uses the most memory"}))
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{'request':28s} {'CPU ms':>8s} {'peak RSS MiB':>13s}   (before: {kib / 1024:.0f})")
    for name, text in SHAPES.items():
        started = time.thread_time()
        selector.select(_request({"query": text[:MAX_REQUEST]}))
        cpu = (time.thread_time() - started) * 1e3
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{name:28s} {cpu:8.1f} {kib / 1024:13.0f}")


if __name__ == "__main__":
    main()
