"""Migrating an OpsConductor tool tree: how long it takes, and what the selector then does
with the migrated catalog (which requests seed tools answer, which the starter's).

    python bench/migration_bench.py --seed-tree PATH [--catalog catalog] [--lexical]
        [--no-import] [--mapping FILE]
        [--queries FILE.jsonl ...]  (JSONL files of labelled requests, e.g.
        bench/data/heldout-queries.jsonl)

PATH is the seed's `pipeline/config/tools` folder. Timing: the conversion in-process, then the
operator's command `toolcatalog import --format opsconductor PATH` end to end (a fresh embedded
PostgreSQL holding the starter catalog, as after `make run`). Selection: the labelled requests
against four catalogs, printing top-1 and how many decisions went to seed tools:
  starter            the starter catalog alone (the baseline)
  +seed              starter and seed, seed replacing same-named starter tools (import's default)
  +seed keep         starter and seed, starter kept on a name clash (import --no-overwrite)
  +seed generic      as `+seed keep`, but the seed's generic names left as they were
  seed / seed generic   the seed's tools alone, named by the migration or left generic
A seed tool counts as acceptable where the label names a tool of the same name; "answerable"
is top-1 over the requests whose label names a tool the catalog has.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from servers import embedded_database

from toolcatalog.config import Settings
from toolcatalog.formats.catalog_folder import load_catalog_folder, load_vocabulary
from toolcatalog.formats.dump import dump_tool
from toolcatalog.formats.opsconductor import Naming, load_mapping, load_opsconductor_paths
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import Constraints, Preferences, SelectionRequest
from toolcatalog.selection.selector import Selector


def cli(url: str, home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "DATABASE_URL": url, "TOOLCATALOG_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return time.perf_counter() - started, done


def write_catalog(folder: Path, tools: list[Tool], vocabulary_file: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "capabilities.yaml").write_text(vocabulary_file.read_text())
    for tool in tools:
        (folder / f"{tool.name}.yaml").write_text(dump_tool(tool))


def measure(folder: Path, lines: list[dict[str, Any]], seed: set[str], lexical: bool) -> str:
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=not lexical))
    if not lexical and not selector.wait_for_semantic():
        return f"semantic retrieval unavailable: {selector.semantic_status}"
    hits = by_seed = by_starter = nulls = answerable = answered = 0
    names = set(selector.loader.snapshot().by_name)
    for line in lines:
        can = bool(set(line["tools"]) & names)
        answerable += can
        prefer = line.get("prefer")
        result = selector.select(
            SelectionRequest(
                request=str(line["query"]),
                constraints=Constraints.model_validate({"platform": line.get("platform")}),
                preferences=Preferences.model_validate({"mode": prefer}) if prefer else None,
                top_k=5,
            )
        )
        if result.decision is None:
            nulls += 1
            continue
        hit = result.decision.tool in set(line["tools"])
        hits += hit
        answered += hit and can
        if result.decision.tool in seed:
            by_seed += 1
        else:
            by_starter += 1
    n = len(lines)
    return (
        f"top-1 {hits / n:.3f} (answerable {answered}/{answerable})  decisions: seed tools "
        f"{by_seed}, starter tools {by_starter}, none {nulls}"
    )


def time_import(catalog: Path, seed_tree: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, embedded_database(Path(tmp) / "pg") as url:
        home = Path(tmp) / "home"
        seconds, done = cli(url, home, "import", str(catalog))
        print(f"starter import: {seconds:.1f} s ({done.stdout.strip().splitlines()[-1]})")
        for label in ("seed import (the operator's command, end to end)", "seed import again"):
            seconds, done = cli(url, home, "import", "--format", "opsconductor", str(seed_tree))
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
            print(f"{label}: {seconds:.1f} s ({last})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-tree", required=True, type=Path)
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--queries", action="append", type=Path, default=[])
    parser.add_argument("--lexical", action="store_true", help="no semantic retrieval")
    parser.add_argument("--no-import", action="store_true", help="skip the database import")
    parser.add_argument("--mapping", type=Path, help="a mapping file for the seed's names")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    vocabulary_file = args.catalog / "capabilities.yaml"
    vocabulary = load_vocabulary(vocabulary_file)

    started = time.perf_counter()
    overrides = load_mapping(args.mapping) if args.mapping else None
    named, report = load_opsconductor_paths([args.seed_tree], naming=Naming(vocabulary, overrides))
    convert_s = time.perf_counter() - started
    generic, _ = load_opsconductor_paths([args.seed_tree])
    print(
        f"conversion: {len(named.tools)} tools, {len(report.skipped)} skipped, "
        f"{len(named.problems)} problems, {convert_s:.2f} s in-process"
    )
    if not args.no_import:
        time_import(args.catalog, args.seed_tree)

    if not args.queries:
        return 0
    starter, _ = load_catalog_folder(args.catalog)
    seed_named = [lt.tool for lt in named.tools]
    seed_generic = [lt.tool for lt in generic.tools]
    seed_names = {t.name for t in seed_named}
    by_name = {t.name: t for t in starter}
    catalogs = {
        "starter": starter,
        "+seed": list({**by_name, **{t.name: t for t in seed_named}}.values()),
        "+seed keep": list({**{t.name: t for t in seed_named}, **by_name}.values()),
        "+seed generic": list({**{t.name: t for t in seed_generic}, **by_name}.values()),
        "seed": seed_named,
        "seed generic": seed_generic,
    }
    clash = len(seed_names & set(by_name))
    print(f"seed tools {len(seed_names)}, of which {clash} share a name with a starter tool")
    for queries in args.queries:
        lines = [json.loads(t) for t in queries.read_text().splitlines() if t.strip()]
        lines = [line for line in lines if line["tools"]]
        print(f"{queries.name}: {len(lines)} labelled requests")
        for label, tools in catalogs.items():
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "catalog"
                write_catalog(folder, tools, vocabulary_file)
                # A seed tool is one that came from the seed here (a kept starter tool is not).
                seed = {t.name for t in tools if by_name.get(t.name) is not t}
                figures = measure(folder, lines, seed, args.lexical)
                print(f"  {label:14} tools {len(tools):3}  {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
