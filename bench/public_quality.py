"""Selection quality on a public tool-selection set imported as a catalog of terse tools.

    python bench/public_quality.py --tools PATH/tools.jsonl --queries PATH/queries.jsonl
        [--limit 2000] [--lexical] [--misses N] [--out-of-scope FILE.jsonl]

`--tools` lines: {"name", "description"}; `--queries` lines: {"query", "tools": [right names]}
(MetaTool's form: JSONL files of labelled requests and of tools, passed by path). The
data is never copied into the repository: the bench takes paths.

Each tool becomes one catalog file whose only text is its description (one capability `use`,
one pattern `default`, both described by the tool's description; neutral profile;
production-safe), written to a temporary folder; every query goes through the selector as
`toolcatalog select --catalog DIR --batch FILE --json` sends it (same request fields, same
selector, embeddings awaited). Printed: top-1 (the decision is a right tool, a null decision
counts as wrong), first candidate right, recall@5 over the first five distinct candidate tools,
MRR, the no-decision rate, and beside them plain BM25's top-1 over the descriptions (our
tokeniser, lightly stemmed). With `--out-of-scope` (lines {"query"} no tool of this catalog
should take) it also prints how many of those it refuses. `--limit` takes that many queries spread
evenly over the file (0: all).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from quality import Tally
from terse import terse_definition

from toolcatalog.cli.selection_requests import batch_request
from toolcatalog.config import Settings
from toolcatalog.model.tool import RESERVED_NAMES
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.tokenizer import tokens


def tool_name(raw: str, taken: set[str]) -> str:
    """A catalog name for a public tool name: snake_case (CamelCase split), unique."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw.strip()).lower()
    name = re.sub(r"[^a-z0-9]+", "_", name).strip("_")[:60] or "tool"
    if not name[0].isalpha():
        name = "t_" + name
    if name in RESERVED_NAMES or len(name) < 2:
        name += "_tool"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def write_catalog(tools: list[dict[str, str]], folder: Path) -> dict[str, str]:
    """One YAML file per tool in `folder`; returns public name -> catalog name."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for tool in tools:
        name = names[tool["name"]] = tool_name(tool["name"], taken)
        description = " ".join(str(tool["description"]).split())[:10_000] or tool["name"]
        definition = terse_definition(name, description)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    return names


def spread(lines: list[dict[str, object]], limit: int) -> list[dict[str, object]]:
    if limit <= 0 or limit >= len(lines):
        return lines
    step = len(lines) / limit
    return [lines[int(i * step)] for i in range(limit)]


class BM25:
    """Plain BM25 (k1 1.2, b 0.75) over the descriptions: the baseline."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.names = list(docs)
        self.terms = [Counter(tokens(docs[n])) for n in self.names]
        self.lengths = [sum(t.values()) for t in self.terms]
        self.average = sum(self.lengths) / max(len(self.lengths), 1)
        df: Counter[str] = Counter()
        for t in self.terms:
            df.update(t.keys())
        n = len(self.names)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def best(self, query: str) -> str | None:
        words = set(tokens(query))
        best, best_score = None, 0.0
        for name, terms, length in zip(self.names, self.terms, self.lengths, strict=True):
            score = 0.0
            for w in words:
                f = terms.get(w, 0)
                if f:
                    norm = 1.2 * (0.25 + 0.75 * length / self.average)
                    score += self.idf[w] * f * 2.2 / (f + norm)
            if score > best_score:
                best, best_score = name, score
        return best


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", required=True, type=Path)
    parser.add_argument("--queries", required=True, type=Path)
    parser.add_argument("--limit", type=int, default=2000, help="queries spread evenly; 0: all")
    parser.add_argument("--out-of-scope", type=Path, help="requests to refuse (jsonl)")
    parser.add_argument("--lexical", action="store_true", help="no semantic retrieval")
    parser.add_argument("--misses", type=int, default=0, help="print this many failures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    tools = [
        {"name": str(t["name"]), "description": str(t["description"])} for t in _read(args.tools)
    ]
    queries = spread(_read(args.queries), args.limit)
    with tempfile.TemporaryDirectory(prefix="public-catalog-") as tmp:
        folder = Path(tmp)
        names = write_catalog(tools, folder)
        settings = Settings(llm_url=None, semantic=not args.lexical)
        started = time.perf_counter()
        selector = Selector(FolderSource(folder), settings)
        if not args.lexical and not selector.wait_for_semantic():
            print(f"semantic retrieval unavailable: {selector.semantic_status}", file=sys.stderr)
            return 1
        ready = time.perf_counter() - started
        tally, outside = Tally(), Tally()
        bm25 = BM25({names[t["name"]]: t["description"] for t in tools})
        bm25_hits = 0
        selecting = time.perf_counter()
        for line in queries:
            query = str(line["query"])
            right = {names[str(t)] for t in line["tools"] if str(t) in names}  # type: ignore[attr-defined]
            result = selector.select(batch_request(json.dumps({"query": query}), 5, False))
            tally.add(query, result, right)
            bm25_hits += bm25.best(query) in right
        per_query = (time.perf_counter() - selecting) / max(len(queries), 1) * 1000
        if args.out_of_scope is not None:
            for line in _read(args.out_of_scope):
                query = str(line["query"])
                outside.add(
                    query,
                    selector.select(batch_request(json.dumps({"query": query}), 5, False)),
                    set(),
                )
    print(
        f"tools {len(tools)}  retrieval {result.retrieval}  ready in {ready:.1f} s  "
        f"{per_query:.1f} ms/query (with the BM25 baseline)"
    )
    print(tally.summary() + f"  | BM25 top-1 {bm25_hits / max(len(queries), 1):.3f}")
    if outside.outside:
        print(outside.summary())
    for miss in (tally.misses + outside.misses)[: args.misses]:
        print("  " + miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
