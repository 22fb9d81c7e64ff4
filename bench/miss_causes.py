"""Why the first candidate is wrong: each miss of a public catalog's quality bench classified
by what put the winner above the right tool, measured with the real bench.

    python bench/miss_causes.py bench/public_quality.py --tools PATH/tools.jsonl \
        --queries PATH/queries.jsonl --limit 2000

For every request with right tools whose first candidate (by fused relevance, fusion.fuse)
is not one of them, the best-ranked right tool is compared with the winner: "lexical" when
the winner leads on the lexical score only (its cosine is not higher), "encoder" when it
leads on the semantic score only, "both" when it leads on both. Printed by the right tool's
rank (2, 3, 4, 5, 6 or lower), with how many misses the semantic score alone would have
ranked right, and how many winners are near twins of the right tool (their descriptions'
cosine at least --twin, default 0.5: the top 0.3 % of MetaTool's tool pairs), where the label
is often one of two defensible answers.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

import numpy as np
from wrapped import add_bench_arguments, run_bench_then

from toolcatalog.selection import retrieve, semantic

RANKS = (2, 3, 4, 5, 6)
CAUSES = ("lexical", "encoder", "both")


class Causes:
    """The last select's fused components, and the counts so far."""

    def __init__(self, twin: float) -> None:
        self.twin = twin
        self.last: tuple[Any, ...] | None = None
        self.counts: Counter[tuple[int, str]] = Counter()
        self.semantic_right = 0
        self.twins = 0
        self.misses = 0
        self.requests = 0
        self._descriptions: dict[int, Any] = {}

    def descriptions(self, index: semantic.SemanticIndex) -> Any:
        """Each tool's description vector (its first text of kind 0), per index."""
        if id(index) not in self._descriptions:
            assert index.vectors is not None
            vectors, layout = index.vectors.per_text(), index.vectors.layout
            start = layout.tool_start
            rows = [
                int(start[i]) + int(np.argmax(layout.kinds[start[i] : start[i + 1]] == 0))
                for i in range(index.size)
            ]
            self._descriptions[id(index)] = vectors[rows]
        return self._descriptions[id(index)]

    def add(self, right: set[str]) -> None:
        if not right or self.last is None:
            return
        lexical, cosine, relevance, index = self.last
        self.last = None
        self.requests += 1
        position = {tool.name: i for i, tool in enumerate(index.tools)}
        wanted = [position[name] for name in right if name in position]
        if not wanted:
            return
        order = np.argsort(-relevance, kind="stable")
        place = np.empty(len(order), dtype=np.int64)
        place[order] = np.arange(len(order))
        mine = min(wanted, key=lambda i: place[i])
        if place[mine] == 0:
            return
        winner = int(order[0])
        self.misses += 1
        ahead_lexical = lexical[winner] > lexical[mine]
        ahead_cosine = cosine[winner] > cosine[mine]
        cause = (
            "lexical"
            if ahead_lexical and not ahead_cosine
            else "encoder"
            if ahead_cosine and not ahead_lexical
            else "both"
        )
        self.counts[(min(int(place[mine]) + 1, RANKS[-1]), cause)] += 1
        self.semantic_right += min(int((cosine > cosine[i]).sum()) for i in wanted) == 0
        vectors = self.descriptions(index)
        self.twins += max(float(vectors[i] @ vectors[winner]) for i in wanted) >= self.twin

    def report(self) -> None:
        print(
            f"\nmisses of the first candidate: {self.misses} of {self.requests} requests"
            " (right tool's fused rank; what put the winner above it)"
        )
        for rank in RANKS:
            label = f"{rank}" if rank < RANKS[-1] else f"{rank}+"
            row = "  ".join(f"{cause} {self.counts[(rank, cause)]}" for cause in CAUSES)
            print(f"  rank {label}: {row}")
        print(f"  the semantic score alone ranks a right tool first: {self.semantic_right}")
        print(f"  winner a near twin of the right tool (descriptions >= {self.twin}): {self.twins}")


def install(causes: Causes) -> None:
    """Patches retrieve.fuse (to keep each select's components) and Tally.add (to read the
    right tools)."""
    fuse = retrieve.fuse
    import quality  # bench/quality.py, on the path of the bench being run

    def recorded(view: semantic.SemanticView, world: Any, lexical: Any, *args: Any) -> Any:
        out = fuse(view, world, lexical, *args)
        top = float(lexical.max(initial=0.0))
        cosine, _best = view.scores()
        causes.last = (lexical / top if top > 0 else lexical, cosine, out[1], view.index)
        return out

    add = quality.Tally.add

    def counted(self: Any, query: str, result: Any, right: set[str]) -> bool:
        causes.add(right)
        return bool(add(self, query, result, right))

    setattr(retrieve, "fuse", recorded)  # noqa: B010
    setattr(quality.Tally, "add", counted)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twin", type=float, default=0.5, help="description cosine of twins")
    add_bench_arguments(parser)
    args = parser.parse_args()
    causes = Causes(args.twin)
    install(causes)
    run_bench_then(causes.report, args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
