"""Terse tools: a name and a description, nothing else a selector could learn from (no
examples, no use cases, a neutral profile), the way a public tool list or a bare import
arrives. One capability `use` and one pattern `default`, both described by the description.

Run, it measures a terse catalog's cold embedding fill (the import's time is
`python bench/import_bench.py --tools 6608 --terse`):

    python bench/terse.py [--tools 6608] [--split 1000] [--baseline-src DIR [--rounds 2]]

"fill": wall and process CPU until selection is hybrid and until the description clauses
are in (on a shared machine the CPU is the steadier figure; "cores had" is CPU / wall);
"encoder": thread CPU per catalog text on one thread, split between tokenising, the
embedding layer, ONNX Runtime's run and pooling. `--baseline-src` alternates passes on
another checkout's src (base, ours, ...), the load before each."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool


def terse_definition(name: str, description: str) -> dict[str, Any]:
    """A terse tool's definition, as YAML or a POST body would carry it."""
    return {
        "name": name,
        "description": description,
        "platform": "cross-platform",
        "category": "general",
        "capabilities": [
            {
                "name": "use",
                "description": description,
                "patterns": [
                    {
                        "name": "default",
                        "description": description,
                        "policy": {"production_safe": True},
                    }
                ],
            }
        ],
    }


def generated_terse(base: CatalogSnapshot, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """`count` terse definitions in `base`'s wording: each a one-sentence description of 8-16
    words drawn from the starter catalog's descriptions (a tldr page's summary is ~10)."""
    rng = random.Random(seed)
    words = " ".join(t.description for t in base.tools).split()
    return [
        terse_definition(
            f"t{n:05d}_{rng.choice(base.tools).name}"[:64],
            " ".join(rng.sample(words, rng.randint(8, 16))),
        )
        for n in range(count)
    ]


# --- the bench: `python bench/terse.py` ------------------------------------------------------
# Importing this module (select_bench, import_bench, public_quality do) loads none of the below.


def fill_figures(count: int) -> str:
    """One cold fill of `count` terse tools into a temporary home, as a server's first start
    after the import: wall and process CPU until selection is hybrid and until the clauses
    are in. CPU is the steadier figure on a shared machine: the wall is CPU / cores had."""
    import logging
    import tempfile

    from select_bench import StaticSource, terse_snapshot

    from toolcatalog.config import Settings
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.selection.selector import Selector

    logging.basicConfig(level=logging.ERROR)
    snapshot = terse_snapshot(load_folder_snapshot(Path("catalog"), strict=False), count)
    with tempfile.TemporaryDirectory() as home:
        wall, cpu = time.perf_counter(), time.process_time()
        settings = Settings(llm_url=None, semantic=True, home=Path(home))
        selector = Selector(StaticSource(snapshot), settings)
        hybrid = selector.wait_for_semantic(3600, complete=False)
        hybrid_at = time.perf_counter() - wall, time.process_time() - cpu
        complete = hybrid and selector.wait_for_semantic(3600)
        all_at = time.perf_counter() - wall, time.process_time() - cpu
    if not complete:
        return f"fill: semantic retrieval unavailable ({selector.semantic_status})"
    return (
        f"fill {count} tools: hybrid after {hybrid_at[0]:6.1f} s (CPU {hybrid_at[1]:5.1f} s), "
        f"all in after {all_at[0]:6.1f} s (CPU {all_at[1]:5.1f} s); "
        f"cores had {all_at[1] / all_at[0]:.2f}"
    )


def encoder_split(count: int, sample: int) -> str:
    """Thread CPU per catalog text, one thread, split as OnnxMiniLMEncoder._one spends it:
    tokenising, the embedding layer (numpy), ONNX Runtime's run, pooling (numpy)."""
    import numpy as np

    from toolcatalog.selection.encoders.minilm import _layer_norm
    from toolcatalog.selection.encoders.onnx import OnnxMiniLMEncoder
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.selection.semantic import tool_texts

    base = load_folder_snapshot(Path("catalog"), strict=False)
    tools = [Tool.model_validate(d) for d in generated_terse(base, count)]
    texts = list(dict.fromkeys(text for tool in tools for _kind, text in tool_texts(tool)))
    texts = random.Random(5).sample(texts, min(sample, len(texts)))
    enc = OnnxMiniLMEncoder()
    spent = [0.0] * 4
    tokens = 0
    for text in texts:
        marks = [time.thread_time()]
        ids = enc.tokenizer.encode(text)
        marks.append(time.thread_time())
        at = np.array(ids)
        x = _layer_norm(
            enc.word[at] + enc.position[: len(ids)] + enc.token_type, enc.embed_norm, enc.eps
        )
        marks.append(time.thread_time())
        feeds = {"x": x[None], "mask": np.ones((1, len(ids)), dtype=np.int32)}
        hidden = enc._session.run(["hidden"], feeds)[0][0]
        marks.append(time.thread_time())
        assert enc.token_weights is not None
        weights = enc.token_weights[at]
        pooled = (hidden * weights[:, None]).sum(axis=0) / np.maximum(weights.sum(), 1.0)
        vector = pooled / np.maximum(np.sqrt(np.add.reduce(pooled * pooled)), 1e-12)
        assert vector.shape == (enc.hidden,)
        marks.append(time.thread_time())
        spent = [s + b - a for s, a, b in zip(spent, marks, marks[1:], strict=False)]
        tokens += len(ids)
    per = [1e3 * s / len(texts) for s in spent]
    return (
        f"encoder, {len(texts)} texts of {tokens / len(texts):.1f} tokens, thread CPU per text: "
        f"tokenise {per[0]:.3f}, embedding layer {per[1]:.3f}, ONNX Runtime run {per[2]:.3f}, "
        f"pooling {per[3]:.3f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import subprocess
    import sys

    parser = argparse.ArgumentParser(description="A terse catalog's cold embedding fill.")
    parser.add_argument("--tools", default=6608, type=int)
    parser.add_argument(
        "--split", default=1000, type=int, help="texts for the encoder's split (0: none)"
    )
    parser.add_argument("--rounds", default=2, type=int, help="passes per tree with --baseline-src")
    parser.add_argument("--baseline-src", type=Path, help="alternate with this checkout's src")
    args = parser.parse_args(argv)
    if args.baseline_src is None:
        print(fill_figures(args.tools), flush=True)
        if args.split:
            print(encoder_split(args.tools, args.split), flush=True)
        return 0
    ours = Path(__file__).resolve().parent.parent / "src"
    trees = [("base", args.baseline_src.resolve()), ("ours", ours)]
    for turn in range(2 * args.rounds):
        name, src = trees[turn % 2]
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"--- {name} ({src}), load {load}", flush=True)
        cmd = [sys.executable, __file__, "--tools", str(args.tools), "--split", str(args.split)]
        env = {**os.environ, "PYTHONPATH": str(src)}
        if subprocess.run(cmd, env=env, check=False).returncode:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
