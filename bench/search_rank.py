"""A full-text query's first ranking over N generated tools, in process: the work one search
of a new query (or of a new catalog version) costs before its first page is answered.

    python bench/search_rank.py [--tools 20000] [--rounds 2] [--baseline-src /tmp/base/src]

The tools are bench/import_bench.py's generator, the catalog bench/scale.py serves (every
tool holds "generated" and "tool"), their search lexemes made as the catalog makes them
(text_query.tokens of the search text), then written once to a temporary pickle. Each round
starts one process per tree (ours, and `--baseline-src`'s when given, alternating which goes
first) that reads the pickle, builds the postings and ranks each query three times with
`search_index.search`, taking its first page of 51 (a list's slice, or made from a session-18
Ranked): the first's thread CPU is printed, then the best's in brackets, the most minor page
faults of the three (fresh pages the kernel zeroed for the ranking's temporaries), and a digest of
every query's whole ranking, which must be the same in both trees. A tree with
catalog/term_codes.py makes the TermCodes a version holds first (their time printed apart)
and searches with them; a tree with catalog/lexicon.py (session 18) holds each tool's lexemes
as its codes, as CachedTool.terms does, made before the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from import_bench import generate

from toolcatalog.catalog.text_query import search_text, tokens

QUERIES = ["generated tool", "tool", "disk usage", "disk or memory", '"generated tool"']

# Run by each tree's process: argv = pickle path, queries as JSON.
_CHILD = r"""
import hashlib, json, pickle, resource, sys, time
from toolcatalog.catalog.search_index import Postings, search
terms = pickle.loads(open(sys.argv[1], "rb").read())
try:  # a tree whose tools hold their lexemes as codes (session 18)
    from toolcatalog.catalog.lexicon import LEXICON
except ImportError:
    pass
else:
    terms = {name: LEXICON.encode(lexemes) for name, lexemes in terms.items()}
postings, names = Postings.of(terms.items()), tuple(sorted(terms))
extra, built = (), None
try:  # a tree with TermCodes (session 17) makes them as a version does, timed apart
    from toolcatalog.catalog.term_codes import Codes, TermCodes
except ImportError:
    pass
else:
    started = time.thread_time()
    made = Codes(TermCodes.of(names, terms), frozenset())
    built = (time.thread_time() - started) * 1000
    extra = (lambda: made,)
def faults():  # this thread's minor page faults: fresh pages the kernel zeroed
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
digest, best, first, fresh = hashlib.sha256(), {}, {}, {}
for query in json.loads(sys.argv[2]):
    times, pages = [], []
    for _ in range(3):
        before, started = faults(), time.thread_time()
        found = search(query, terms, postings, names, *extra)
        page = found[:51]  # the first page a search answers (a list's slice, or made now)
        times.append(time.thread_time() - started)
        pages.append(faults() - before)
    best[query], first[query] = min(times) * 1000, times[0] * 1000
    fresh[query] = max(pages)
    digest.update(pickle.dumps(list(found)))
print(json.dumps({"best": best, "first": first, "faults": fresh, "built": built,
                  "digest": digest.hexdigest()}))
"""


def measure(src: Path, terms_file: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(terms_file), json.dumps(QUERIES)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-src", type=Path)
    args = parser.parse_args()
    ours = Path(__file__).resolve().parents[1] / "src"
    trees = {"ours": ours}
    if args.baseline_src:
        trees = {"base": args.baseline_src, "ours": ours}
    started = time.perf_counter()
    terms = {tool.name: tokens(search_text(tool)) for tool in generate(args.tools)}
    print(f"{args.tools:,} tools' lexemes made in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="toolcatalog-search-rank-") as folder:
        terms_file = Path(folder) / "terms.pickle"
        terms_file.write_bytes(pickle.dumps(terms))
        del terms
        results: dict[str, list[dict[str, object]]] = {tree: [] for tree in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for tree in order:
                results[tree].append(measure(trees[tree], terms_file))
    print("thread CPU of a query's first search (best of 3) in ms, each round; then the most")
    print("minor page faults of its 3 searches (pages of 4 KiB, or 2 MiB where numpy asked)")
    for query in QUERIES:
        line = "   ".join(
            f"{tree} "
            + " / ".join(f"{r['first'][query]:.1f} ({r['best'][query]:.1f})" for r in runs)  # type: ignore[index]
            + " ms, faults "
            + " / ".join(str(r["faults"][query]) for r in runs)  # type: ignore[index]
            for tree, runs in results.items()
        )
        print(f"{query!r:20} {line}")
    for tree, runs in results.items():
        built = [r["built"] for r in runs if r["built"] is not None]
        if built:
            print(f"{tree}: TermCodes made in " + " / ".join(f"{b:.0f}" for b in built) + " ms")  # type: ignore[str-format]
    digests = {tree: {r["digest"] for r in runs} for tree, runs in results.items()}
    print("rankings digest:", "; ".join(f"{t} {' '.join(sorted(d))}" for t, d in digests.items()))  # type: ignore[arg-type]
    if len({d for each in digests.values() for d in each}) > 1:
        raise SystemExit("the trees ranked differently")


if __name__ == "__main__":
    main()
