"""Intent kept under production policy: substitutions, the right action with approval, reads.

    python bench/intent_quality.py [--queries bench/data/intent-production.jsonl]
        [--catalog catalog] [--env production] [--lexical] [--misses]
    python bench/intent_quality.py --reads-only --queries OTHER.jsonl --catalog OTHER_CATALOG

Each line: {"id", "query", "kind": "change"|"read", "patterns": ["tool.pattern", ...]} (the
acceptable actions of a change request). Printed:
- substitutions: a decision whose effect does not fit the request (a read pattern for a
  change request, a change pattern for a read request). Must be 0.
- change requests: the decision is an acceptable pattern and its policy outcome is
  needs_approval (production's rule for a change); also how many were null, and why.
- reads: the decision is a read pattern and allowed.
- intent read right: the request's intent kind as labelled.
`--reads-only` checks any catalog with any request file ("query" per line, every line a read
request, e.g. the dev or held-out sets): a read request's decision is never a change pattern.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import Constraints, SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector


def _ask(selector: Selector, query: str, env: str) -> SelectionResult:
    constraints = Constraints.model_validate({"environment": env})
    return selector.select(SelectionRequest(request=query, constraints=constraints, top_k=5))


def _label(result: SelectionResult) -> str:
    d = result.decision
    if d is None:
        return f"null ({result.reason})"
    return f"{d.tool}.{d.pattern} [{d.effect.value}, {d.policy_outcome.value}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).parent / "data" / "intent-production.jsonl"
    parser.add_argument("--queries", default=default, type=Path)
    parser.add_argument("--catalog", default=Path("catalog"), type=Path)
    parser.add_argument("--env", default="production")
    parser.add_argument("--misses", action="store_true", help="print each failure")
    parser.add_argument("--lexical", action="store_true", help="no semantic retrieval")
    parser.add_argument("--reads-only", action="store_true", help="every line is a read")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    settings = Settings(llm_url=None, semantic=not args.lexical)
    selector = Selector(FolderSource(args.catalog, strict=False), settings)
    if not args.lexical and not selector.wait_for_semantic():
        print(f"semantic retrieval unavailable: {selector.semantic_status}", file=sys.stderr)
        return 1
    lines = [json.loads(t) for t in args.queries.read_text().splitlines() if t.strip()]
    if args.reads_only:
        lines = [{**line, "kind": "read"} for line in lines]
    substitutions, misses = [], []
    changes = right = approval = nulls = reads = reads_ok = kind_ok = 0
    for line in lines:
        query, kind = str(line["query"]), str(line["kind"])
        result = _ask(selector, query, args.env)
        d = result.decision
        if result.intent is not None and result.intent.kind == kind:
            kind_ok += 1
        if d is not None and d.effect.changes != (kind == "change"):
            substitutions.append(f"{line.get('id')}: {query!r} -> {_label(result)}")
        if kind == "change":
            changes += 1
            nulls += d is None
            ok = d is not None and f"{d.tool}.{d.pattern}" in line["patterns"]
            right += ok
            approval += ok and d is not None and d.policy_outcome == "needs_approval"
            if not ok:
                misses.append(f"{line.get('id')}: {query!r} -> {_label(result)}")
        else:
            reads += 1
            good = d is not None and not d.effect.changes and d.policy_outcome == "allowed"
            reads_ok += good
            if not good and not args.reads_only:
                misses.append(f"{line.get('id')}: {query!r} -> {_label(result)}")
    print(f"catalog {args.catalog}, {len(lines)} requests, env {args.env}, "
          f"retrieval {'lexical' if args.lexical else 'hybrid'}")  # fmt: skip
    print(f"substitutions:          {len(substitutions)}")
    if changes:
        print(
            f"change requests:        {changes}: right action {right} ({right / changes:.0%}), "
            f"with needs_approval {approval} ({approval / changes:.0%}), null {nulls}"
        )
    if reads:
        print(
            f"read requests:          {reads}: read and allowed {reads_ok} ({reads_ok / reads:.0%})"
        )
    print(f"intent kind read right: {kind_ok}/{len(lines)}")
    for s in substitutions:
        print("  substitution", s)
    if args.misses:
        for m in misses:
            print("  miss", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
