"""What other fusions of the lexical and semantic scores would rank, replayed from one run of a
quality bench, and what the best per-request fusion could reach (issue #13).

    python bench/fusion_replay.py bench/public_quality.py --tools PATH/tools.jsonl \
        --queries PATH/queries.jsonl --limit 2000
    python bench/fusion_replay.py bench/select_quality.py --queries FILE.jsonl [--terse]

The wrapped bench runs as it is; each select's fused components are kept (retrieve.fuse's
lexical scores over the best, each tool's semantic field and its texts' cosines), and its
right tools read from the bench's `--queries` file (a public set's names written as
public_quality.py writes them). Each form below then ranks every labelled request's tools,
printed as the first tool's top-1 / recall@5 (by relevance alone: no gate, no preferences;
`as fused` is the check that the replay ranks as fusion.fuse did):

- `as fused`: fusion.fuse's relevance, (1 - s) x lexical + s x the cosine placed between
  SEMANTIC_FLOOR (clipped there) and the request's best cosine, or over the catalog's
  constant span (Calibration.semantic_span, not clipped) (s: the catalog's share);
- `per-request span`: the cosine placed between the floor and the request's best, clipped
  (how every catalog was fused before session 16);
- `lexical alone`, `semantic alone`;
- `best share per request`: the most requests any share from 0 to 1 (step 0.05) ranks right,
  each request at its own share: a ceiling for any weighting of these two scores;
- `span >= D`: the semantic side placed over at least D of cosine above the floor, not
  clipped under it (a request whose best cosine is near the floor does not have its small
  cosine differences stretched to the whole semantic share);
- `cosine + k x lexical`: the lexical score at a constant weight in cosine units (a product
  of the two sides' softmax experts ranks the same way);
- `centred`: every text vector and the request less the catalog's mean text vector,
  renormalised, placed between a floor of 0.1 and the request's best (what the catalog's texts
  all share removed).
Then the requests whose right tool is not first (not in the first five) by fused relevance,
counted by where the lexical score alone ("none": the right tool shares no word with the
request) and the semantic score alone rank their right tool (1, 2-5, 6-20, >20).
Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from wrapped import add_bench_arguments, run_bench_then

from toolcatalog.selection import fusion, retrieve, semantic
from toolcatalog.selection import selector as selector_module

Matrix = npt.NDArray[np.float64]
SHARES = np.linspace(0.0, 1.0, 21)


class Replay:
    """Each select's fused components, kept in request order, and the forms replayed."""

    def __init__(self, labels: dict[str, set[str]]) -> None:
        self.labels = labels
        self.last: dict[str, Any] = {}
        self.rows: list[dict[str, Any]] = []
        self.view: semantic.SemanticView | None = None

    def keep(self, view: semantic.SemanticView, world: Any, lexical: Any) -> None:
        """The fused components of the select under way (the last index's view is kept for
        its layout and vectors)."""
        top = float(lexical.max(initial=0.0))
        mean, _best = view.scores()
        self.view = view
        self.last = {
            "lexical": lexical / top if top > 0 else np.asarray(lexical, dtype=np.float64),
            "mean": mean,
            "world": np.asarray(world, dtype=bool),
            "query": np.asarray(view.query, dtype=np.float64),
            "share": (
                view.calibration.semantic_share
                if view.calibration is not None
                else fusion.SEMANTIC_SHARE
            ),
            "span": view.calibration.semantic_span if view.calibration is not None else None,
        }

    def selected(self, request: str) -> None:
        right = self.labels.get(request)
        if right and self.last:
            self.rows.append({**self.last, "right": right})
        self.last = {}

    def report(self) -> None:
        if not self.rows or self.view is None:
            print("nothing to replay (no labelled request was answered with embeddings)")
            return
        index = self.view.index
        position = {tool.name: i for i, tool in enumerate(index.tools)}
        right = [{position[n] for n in r["right"] if n in position} for r in self.rows]
        lexical = np.stack([r["lexical"] for r in self.rows])
        cosine = np.stack([r["mean"] for r in self.rows])
        world = np.stack([r["world"] for r in self.rows])
        share = float(self.rows[0]["share"])
        constant = self.rows[0]["span"]

        def show(label: str, scores: Matrix) -> None:
            first, recalled = ranked(np.where(world, scores, -np.inf), right)
            print(f"{label:<34} top-1 {first.mean():.4f}  recall@5 {recalled.mean():.4f}")

        print(f"\n{len(self.rows)} requests, {len(position)} tools, semantic share {share}")
        if constant is None:
            show("as fused", fused(lexical, cosine, share))
        else:
            show("as fused", fused(lexical, cosine, share, span=constant, clip=False, fixed=True))
            show("per-request span", fused(lexical, cosine, share))
        show("lexical alone", lexical)
        show("semantic alone", cosine)
        firsts = np.zeros(len(right), dtype=bool)
        recalls = np.zeros(len(right), dtype=bool)
        for s in SHARES:
            first, recalled = ranked(np.where(world, fused(lexical, cosine, s), -np.inf), right)
            firsts |= first
            recalls |= recalled
        print(
            f"{'best share per request':<34} top-1 {firsts.mean():.4f}  "
            f"recall@5 {recalls.mean():.4f}"
        )
        for span in (0.15, 0.2, 0.25):
            show(f"span >= {span}", fused(lexical, cosine, share, span=span, clip=False))
        for k in (0.08, 0.1, 0.12):
            show(f"cosine + {k} x lexical", cosine + k * lexical)
        centred = self.centred(np.stack([r["query"] for r in self.rows]))
        show("centred (floor 0.1)", fused(lexical, centred, share, floor=0.1))
        as_fused = places(np.where(world, fused(lexical, cosine, share), -np.inf), right)
        alone = places(np.where(world & (lexical > 0), lexical, -np.inf), right)
        matched = np.array([any(lexical[i, t] > 0 for t in r) for i, r in enumerate(right)])
        meaning = places(np.where(world, cosine, -np.inf), right)
        for label, missed in (("first", as_fused > 1), ("five", as_fused > 5)):
            classes = Counter(
                (band(int(alone[i])) if matched[i] else "none", band(int(meaning[i])))
                for i in np.flatnonzero(missed)
            )
            print(f"\nright tool not {label} ({int(missed.sum())}): its rank lexical / semantic")
            for (by_words, by_meaning), count in classes.most_common():
                print(f"  {by_words:>5} / {by_meaning:<5} {count}")

    def centred(self, queries: Matrix) -> Matrix:
        """Each request's semantic fields with the catalog's mean text vector taken from the
        texts and the request (text_vectors' own aggregation over the centred cosines)."""
        assert self.view is not None
        vectors = self.view.vectors
        rows = vectors.scan.matrix.astype(np.float64)
        mean = vectors.per_text().astype(np.float64).mean(axis=0)
        texts = rows - mean
        texts /= np.linalg.norm(texts, axis=1, keepdims=True)
        asked = queries - mean
        asked /= np.linalg.norm(asked, axis=1, keepdims=True)
        tools = np.arange(self.view.index.size)
        out = np.empty((len(queries), len(tools)))
        for i, cosines in enumerate(asked @ texts.T):
            scores: Callable[[Any], Any] = lambda at, c=cosines: c[at]  # noqa: E731
            out[i] = vectors._scores_of(tools, scores)[0]
        return out


def fused(
    lexical: Matrix,
    cosine: Matrix,
    share: float,
    floor: float = fusion.SEMANTIC_FLOOR,
    span: float = 1e-9,
    clip: bool = True,
    fixed: bool = False,
) -> Matrix:
    """fusion.fuse's relevance order for every request at once (span: the least span, or
    with `fixed` the span itself)."""
    top = cosine.max(axis=1, keepdims=True)
    placed = (cosine - floor) / (span if fixed else np.maximum(top - floor, span))
    if clip:
        placed = np.clip(placed, 0.0, 1.0)
    out: Matrix = (1.0 - share) * lexical + share * placed
    return out


def ranked(
    scores: Matrix, right: list[set[int]]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per request: its best-scored tool is right; a right tool is among its best five."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    first = np.array([int(o[0]) in r for o, r in zip(order, right, strict=True)])
    recalled = np.array([bool(r & set(o.tolist())) for o, r in zip(order, right, strict=True)])
    return first, recalled


def places(scores: Matrix, right: list[set[int]]) -> npt.NDArray[np.int64]:
    """Per request, the rank (from 1) of its best-ranked right tool."""
    order = np.argsort(-scores, axis=1, kind="stable")
    place = np.empty_like(order)
    place[np.arange(len(order))[:, None], order] = np.arange(order.shape[1])[None, :]
    return np.array([min(int(place[i, t]) for t in r) + 1 for i, r in enumerate(right)])


def band(rank: int) -> str:
    return "1" if rank == 1 else "2-5" if rank <= 5 else "6-20" if rank <= 20 else ">20"


def labels(args: list[str]) -> dict[str, set[str]]:
    """Request -> right tool names, as the wrapped bench's catalog names them, from its
    `--queries` file (public names also under public_quality.tool_name's spelling)."""
    from public_quality import tool_name

    path = Path(args[args.index("--queries") + 1])
    out: dict[str, set[str]] = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        if text.strip():
            line = json.loads(text)
            names = {str(n) for n in line["tools"]}
            out[str(line["query"])] = names | {tool_name(n, set()) for n in names}
    return out


def install(replay: Replay) -> None:
    """Patches retrieve.fuse (to keep each select's components) and Selector.select (to tie
    them to the request)."""
    fuse = retrieve.fuse
    select = selector_module.Selector.select

    def recorded(view: semantic.SemanticView, world: Any, lexical: Any, *args: Any) -> Any:
        out = fuse(view, world, lexical, *args)
        replay.keep(view, world, lexical)
        return out

    def selected(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        replay.last = {}
        result = select(self, request, *args, **kwargs)
        replay.selected(request.request)
        return result

    setattr(retrieve, "fuse", recorded)  # noqa: B010
    setattr(selector_module.Selector, "select", selected)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bench_arguments(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.bench).resolve().parent))
    replay = Replay(labels(args.args))
    install(replay)
    run_bench_then(replay.report, args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
