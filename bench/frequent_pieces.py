"""An experiment, not the product: the encoder's rarity weights (pooling.py) corrected for a
catalog's own frequent word pieces, measured with the real quality benches.

    python bench/frequent_pieces.py --share 0.05 --floor 0.3 \
        bench/public_quality.py --tools PATH/tools.jsonl --queries PATH/queries.jsonl ...
    python bench/frequent_pieces.py --share 0.05 --floor 0.3 \
        bench/select_quality.py --queries FILE.jsonl [--terse]

General English rates a catalog's boilerplate ("plugin", "tool", "information") rare-ish; the
catalog's own frequency says it is worthless there. A piece found in more than `--share` of
the catalog's tools (any of their embedded texts, semantic.tool_texts) has its weight
multiplied by log(N / df) / log(1 / share), at least `--floor`: a piece in every tool weighs
`--floor` x its table weight, one just above the share nearly its table weight. Word pieces
only (punctuation keeps its weight); catalogs of under MIN_TOOLS tools are left alone. The
factors are computed once, from the first index the selector builds, and apply to every text
the encoder pools from then on: the catalog's texts, the calibration's generic requests and
every request. The encoder's name gains the settings, so its embeddings are cached apart from
the product's (TOOLCATALOG_HOME/embeddings). Prints the pieces corrected on stderr, then runs
the bench (its own arguments follow the script's path).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from wrapped import add_bench_arguments, run_bench

from toolcatalog.model.tool import Tool
from toolcatalog.selection import semantic, semantic_engine
from toolcatalog.selection.encoders import minilm, pooling
from toolcatalog.selection.encoders.minilm import MiniLMEncoder, model_dir
from toolcatalog.selection.encoders.wordpiece import WordPieceTokenizer

MIN_TOOLS = 20


def frequent_pieces(
    tools: Sequence[Tool], tokenizer: WordPieceTokenizer, share: float, floor: float
) -> dict[int, float]:
    """Piece id -> weight factor for the word pieces in more than `share` of `tools`."""
    if len(tools) < MIN_TOOLS:
        return {}
    df: dict[int, int] = {}
    for tool in tools:
        seen: set[int] = set()
        for _, text in semantic.tool_texts(tool):
            seen.update(tokenizer.encode(text)[1:-1])
        for piece in seen:
            df[piece] = df.get(piece, 0) + 1
    words = {index: word for word, index in tokenizer.vocab.items()}
    n = len(tools)
    return {
        piece: max(floor, math.log(n / count) / math.log(1 / share))
        for piece, count in df.items()
        if count / n > share and words[piece].strip("#").isalnum()
    }


def install(share: float, floor: float) -> None:
    """Patches the semantic engine so its encoder pools with the corrected weights."""
    tokenizer = WordPieceTokenizer(model_dir() / "vocab.txt")
    words = {index: word for word, index in tokenizer.vocab.items()}
    factors: dict[int, float] = {}
    minilm.POOLING = f"{pooling.POOLING}-frequent-{share}-{floor}"  # type: ignore[attr-defined]
    index_init = semantic.SemanticIndex.__init__
    load: Callable[..., MiniLMEncoder] = getattr(semantic_engine, "load_fast_encoder")  # noqa: B009

    def init(self: semantic.SemanticIndex, tools: Sequence[Tool], *args: Any) -> None:
        index_init(self, tools, *args)
        if not factors and len(tools) >= MIN_TOOLS:
            factors.update(frequent_pieces(tools, tokenizer, share, floor))
            shown = sorted(factors.items(), key=lambda item: item[1])[:30]
            print(
                f"{len(factors)} frequent pieces: "
                + ", ".join(f"{words[p]} {f:.2f}" for p, f in shown),
                file=sys.stderr,
            )

    def corrected(*args: Any, **kwargs: Any) -> MiniLMEncoder:
        encoder = load(*args, **kwargs)
        if encoder.token_weights is not None:
            weights = encoder.token_weights.copy()
            for piece, factor in factors.items():
                weights[piece] *= factor
            encoder.token_weights = weights
        return encoder

    # The module's own names, replaced for this process (the engine looks both up per call).
    setattr(semantic.SemanticIndex, "__init__", init)  # noqa: B010
    setattr(semantic_engine, "load_fast_encoder", corrected)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.05, help="df share above which")
    parser.add_argument("--floor", type=float, default=0.3, help="least factor")
    add_bench_arguments(parser)
    args = parser.parse_args()
    if not 0 < args.share < 1 or not 0 <= args.floor <= 1:
        parser.error("--share must be in (0, 1) and --floor in [0, 1]")
    install(args.share, args.floor)
    run_bench(args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
