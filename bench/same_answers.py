"""Whether two checkouts give the same answers: every request of bench/data (and of any
`--queries FILE.jsonl` given) selected on the starter catalog, on it with examples and use
cases removed (`--terse` as in bench/select_quality.py) and on bench/select_bench.py's
generated catalog (word-sum vectors, its first 200 requests), each with `explain` and with
`patterns: all`, and on bench/import_bench.py's catalog (`scale`: what bench/scale.py imports,
tools that share their texts but a number, word-sum vectors; not in the default list); each
answer's JSON (selection_id and elapsed_ms aside) written a line each.
For a change meant to keep every decision, score and reason bit for bit.

    python bench/same_answers.py --baseline-src /tmp/base/src [--queries FILE.jsonl]
        [--catalogs starter,terse,generated] [--tools 10000]

Runs this file once per tree (PYTHONPATH), then compares the two outputs line by line and
prints the first answers that differ; exit status 1 when any does. Takes ~5-10 minutes on two
busy cores (the starter's embeddings are computed cold, twice per tree).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATED_REQUESTS = 200


def requests(extra: list[Path]) -> list[str]:
    texts = []
    for file in [*sorted((HERE / "data").iterdir()), *extra]:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["query"] if line.startswith("{") else line)
    return texts


def answers(out: Path, catalogs: list[str], tools: int, extra: list[Path]) -> None:
    """Write this tree's answers (imported here: PYTHONPATH picks the tree)."""
    sys.path.insert(0, str(HERE))
    import select_bench as sb
    from import_bench import generate
    from select_quality import TerseSource

    from toolcatalog.config import Settings
    from toolcatalog.model.snapshot import CatalogSnapshot
    from toolcatalog.selection.loader import FolderSource, load_folder_snapshot
    from toolcatalog.selection.models import SelectionRequest
    from toolcatalog.selection.selector import Selector
    from toolcatalog.selection.semantic_engine import SemanticEngine

    texts = requests(extra)
    catalog = HERE.parent / "catalog"
    with (
        tempfile.TemporaryDirectory(prefix="same-answers-") as folder,
        out.open("w", encoding="utf-8") as f,
    ):
        home = Path(folder)
        for name in catalogs:
            engine, asked = None, texts
            if name == "starter":
                source: object = sb.StaticSource(load_folder_snapshot(catalog))
            elif name == "terse":
                source = TerseSource(FolderSource(catalog))
            elif name == "scale":
                snapshot = CatalogSnapshot(tuple(generate(tools)), 1, datetime.now(UTC), None, name)
                source = sb.StaticSource(snapshot)
                engine = SemanticEngine(home / "words", load=sb.WordSumEncoder)
                asked = texts[:GENERATED_REQUESTS]
            else:
                source = sb.StaticSource(sb.generated(load_folder_snapshot(catalog), tools))
                engine = SemanticEngine(home / "words", load=sb.WordSumEncoder)
                asked = texts[:GENERATED_REQUESTS]
            settings = Settings(
                llm_url=None, semantic=True, home=home / name, select_answers_max_bytes=0
            )
            selector = Selector(source, settings, engine=engine)  # type: ignore[arg-type]
            if not selector.wait_for_semantic(3600):
                raise SystemExit(f"{name}: semantic retrieval unavailable")
            for text in asked:
                for options in ({"top_k": 5, "explain": True}, {"patterns": "all", "top_k": 3}):
                    try:
                        result = selector.select(SelectionRequest(request=text, **options))
                        answer = json.loads(result.model_dump_json(by_alias=True))
                        answer.pop("selection_id")
                        answer.pop("elapsed_ms")
                    except Exception as exc:  # an error is an answer too
                        answer = {"error": repr(exc)}
                    line = {"catalog": name, "request": text, "options": options, "answer": answer}
                    f.write(json.dumps(line, sort_keys=True) + "\n")
            print(f"  {name}: {len(asked) * 2} answers", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="the other checkout's src folder")
    parser.add_argument("--queries", type=Path, action="append", default=[])
    parser.add_argument("--catalogs", default="starter,terse,generated")
    parser.add_argument("--tools", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # one tree's run
    args = parser.parse_args()
    catalogs = args.catalogs.split(",")
    if args.out is not None:
        answers(args.out, catalogs, args.tools, args.queries)
        return 0
    if args.baseline_src is None:
        parser.error("--baseline-src is required")
    outputs = []
    with tempfile.TemporaryDirectory(prefix="same-answers-") as work:
        for name, src in (("base", args.baseline_src.resolve()), ("ours", HERE.parent / "src")):
            print(f"--- {name} ({src})", flush=True)
            out = Path(work) / f"{name}.jsonl"
            command = [sys.executable, __file__, "--out", str(out), "--catalogs", args.catalogs]
            command += ["--tools", str(args.tools)]
            for file in args.queries:
                command += ["--queries", str(file.resolve())]
            env = {**os.environ, "PYTHONPATH": str(src)}
            subprocess.run(command, env=env, check=True)
            outputs.append(out.read_text(encoding="utf-8").splitlines())
    base, ours = outputs
    differ = [(a, b) for a, b in zip(base, ours, strict=True) if a != b]
    print(f"{len(base)} answers, {len(differ)} differ")
    for a, b in differ[:5]:
        print(f"  base: {a[:300]}\n  ours: {b[:300]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
