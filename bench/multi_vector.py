"""An experiment, not the product: each clause of a tool's description (and optionally each
use case of its capability texts) embedded as a text of its own, measured with the real
quality benches.

    python bench/multi_vector.py --split clause --weight 1 \
        bench/public_quality.py --tools PATH/tools.jsonl --queries PATH/queries.jsonl ...
    python bench/multi_vector.py --split clause --weight 1 [--capabilities] \
        bench/select_quality.py --queries FILE.jsonl [--terse]

A tool's semantic score is the mean over its kinds of text of the best cosine in each kind
(semantic.py): a tool whose second sentence answers the request is blurred by the first one.
Here the description's field becomes (1 - w) x the whole description's cosine + w x the most
of that and its pieces' cosines (`--mode soft`: a log-mean-exp at temperature 0.05 over the
whole and the pieces instead of the most). Pieces are sentences (`--split sentence`) or
clauses (`--split clause`: also cut at commas, colons, "and", "or", "&", " - "), of at least
`--min-words` words, and only where a text yields two or more (`--without-examples`: only
for tools without examples, as the name field of semantic.py). Pieces take no part in the
best single cosine (what the gate reads) nor in the calibration, as a tool's name does not
(short texts sit near requests by accident). Scores are computed exactly per tool in Python
(no fast scan), so a run is slower than the product; the values are those of the product
when no piece is made (`--split none` reproduces its figures).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from wrapped import add_bench_arguments, run_bench

from toolcatalog.model.tool import Tool
from toolcatalog.selection import semantic, text_vectors

PIECE_KIND = 4  # a kind after text_vectors.KINDS' four
SOFT_TEMPERATURE = 0.05
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_CLAUSE = re.compile(r"(?<=[.!?;,:])\s+|\s+(?:and|or|-|&)\s+")


def pieces(text: str, split: str, min_words: int) -> list[str]:
    """`text`'s sentences or clauses of at least `min_words` words; none unless two or more."""
    cut = _CLAUSE if split == "clause" else _SENTENCE
    found = [p.strip(" .;,") for p in cut.split(text)]
    found = [p for p in found if len(p.split()) >= min_words]
    return found if len(found) >= 2 else []


def install(
    split: str, weight: float, mode: str, min_words: int, capabilities: bool, terse_only: bool
) -> None:
    """Patches the semantic engine of this process: texts, calibration and per-tool scores."""
    texts_of = semantic.tool_texts
    calibrate = semantic.calibrate
    setattr(text_vectors, "KINDS", (*text_vectors.KINDS, "piece"))  # noqa: B010

    def tool_texts(tool: Tool) -> list[tuple[int, str]]:
        out = texts_of(tool)
        if terse_only and tool.examples:
            return out
        extra: list[str] = []
        for kind, text in out:
            if kind == 0 and split != "none":
                extra += pieces(text.split(": ", 1)[-1], split, min_words)
            elif kind == 2 and capabilities:
                uses = [u.strip() for u in text.split("; ")]
                if len(uses) >= 2:
                    extra += [u for u in uses if len(u.split()) >= min_words]
        return out + [(PIECE_KIND, piece) for piece in extra]

    def calibrated(vectors: Any, kinds: Any, negatives: Any, owners: Any = None) -> Any:
        keep = kinds != PIECE_KIND
        return calibrate(
            vectors[keep], kinds[keep], negatives, None if owners is None else owners[keep]
        )

    def scores(index: text_vectors.TextVectors, query: Any, tools: Sequence[int]) -> Any:
        sims = index.scan.exact(query)
        if index.inverse is not None:
            sims = sims[index.inverse]
        mean, best = np.zeros(len(tools)), np.full(len(tools), -1.0)
        layout = index.layout
        for out, i in enumerate(tools):
            start, end = layout.tool_start[i], layout.tool_start[i + 1]
            mine, kinds = sims[start:end], layout.kinds[start:end]
            fields = {k: float(mine[kinds == k].max()) for k in range(4) if (kinds == k).any()}
            cut = mine[kinds == PIECE_KIND]
            if len(cut) and 0 in fields:
                whole = fields[0]
                if mode == "soft":
                    both = np.r_[whole, cut] / SOFT_TEMPERATURE
                    most = float(SOFT_TEMPERATURE * np.log(np.mean(np.exp(both))))
                else:
                    most = max(whole, float(cut.max()))
                fields[0] = (1 - weight) * whole + weight * most
            others = [v for k, v in fields.items() if k != text_vectors.NAME_KIND]
            value = sum(others) / max(len(others), 1)
            if text_vectors.NAME_KIND in fields:
                w = text_vectors.NAME_WEIGHT
                value = (1 - w) * value + w * fields[text_vectors.NAME_KIND]
            mean[out] = value
            plain = mine[(kinds != text_vectors.NAME_KIND) & (kinds != PIECE_KIND)]
            best[out] = float(plain.max()) if len(plain) else -1.0
        return mean, best

    def tool_scores(self: text_vectors.TextVectors, query: Any) -> Any:
        return scores(self, query, range(self.layout.size))

    def approximate_scores(self: text_vectors.TextVectors, query: Any) -> Any:
        mean, best = scores(self, query, range(self.layout.size))
        finer = lambda tools: scores(self, query, [int(t) for t in tools])  # noqa: E731
        return text_vectors.Approximation(mean, best, 0.0, 0.0, finer)

    def exact_scores(self: text_vectors.TextVectors, query: Any, tools: Any) -> Any:
        return scores(self, query, [int(t) for t in tools])

    setattr(semantic, "tool_texts", tool_texts)  # noqa: B010
    setattr(semantic, "calibrate", calibrated)  # noqa: B010
    setattr(text_vectors.TextVectors, "tool_scores", tool_scores)  # noqa: B010
    setattr(text_vectors.TextVectors, "approximate_scores", approximate_scores)  # noqa: B010
    setattr(text_vectors.TextVectors, "exact_scores", exact_scores)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("none", "sentence", "clause"), default="clause")
    parser.add_argument("--weight", type=float, default=1.0, help="the pieces' share, 0..1")
    parser.add_argument("--mode", choices=("max", "soft"), default="max")
    parser.add_argument("--min-words", type=int, default=3, help="shortest piece kept")
    parser.add_argument("--capabilities", action="store_true", help="split use cases too")
    parser.add_argument(
        "--without-examples", action="store_true", help="pieces only for tools without examples"
    )
    add_bench_arguments(parser)
    args = parser.parse_args()
    if not 0 <= args.weight <= 1 or args.min_words < 1:
        parser.error("--weight must be in [0, 1] and --min-words at least 1")
    if args.split != "none" or args.capabilities:
        install(
            args.split,
            args.weight,
            args.mode,
            args.min_words,
            args.capabilities,
            args.without_examples,
        )
    run_bench(args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
