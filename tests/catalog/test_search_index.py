"""The in-memory full-text search (catalog/search_index.py, text_query.py) against PostgreSQL's
own `to_tsvector('english', ...)`, `websearch_to_tsquery` and `ts_rank` on the starter
catalog: the same lexemes and positions, the same matches, ranks and order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from toolcatalog.catalog.search_index import Postings, search
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.text_query import And, Not, Or, Phrase, lexemes, parse_query, tokens
from toolcatalog.model.listing import ToolFilter
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.store.tools import search_text

ROOT = Path(__file__).resolve().parents[2]

# Query syntax (phrases, or, exclusion, stopwords, hyphens, paths, numbers).
SYNTAX = [
    "disk usage",
    '"disk usage"',
    "disk or memory",
    "disk -usage",
    "nginx or apache -windows",
    '"log files" rotate',
    "kubernetes pod logs",
    "the",
    "dns OR dhcp",
    "5xx errors",
    "p99 latency",
    "on-call",
    "/var/log",
    "CPU-bound",
    "ip 10.0.0.1",
    "-linux",
    "who or what",
    "certificate expiry",
    '"the disk"',
    "restart service",
    "memory leak java",
    "or",
    "x86_64",
]


def _queries(tools: Any) -> list[str]:
    """SYNTAX, the held-out requests, and each word of the tools' names and categories."""
    lines = (ROOT / "bench" / "data" / "heldout-queries.jsonl").read_text().splitlines()
    words = {w for t in tools for w in (*t.name.split("_"), t.category.replace("_", " "))}
    return [*SYNTAX, *(json.loads(line)["query"] for line in lines if line.strip()), *sorted(words)]


def _tsvector(text: str) -> dict[str, tuple[int, ...]]:
    out = {}
    for m in re.finditer(r"'((?:[^']|'')*)'(?::([\d,]+))?", text):
        positions = tuple(int(p) for p in m.group(2).split(",")) if m.group(2) else ()
        out[m.group(1).replace("''", "'")] = positions
    return out


async def test_lexemes_and_positions_are_postgresqls_for_every_starter_tool(conn: Any) -> None:
    snapshot = load_folder_snapshot(ROOT / "catalog", strict=False)
    for tool in snapshot.tools:
        text = search_text(tool)
        stored = await conn.fetchval("SELECT to_tsvector('english', $1)::text", text)
        assert lexemes(text) == _tsvector(stored), tool.name


async def test_searches_match_and_rank_as_postgresql_on_the_starter_catalog(conn: Any) -> None:
    snapshot = load_folder_snapshot(ROOT / "catalog", strict=False)
    texts = {tool.name: search_text(tool) for tool in snapshot.tools}
    terms = {name: tokens(text) for name, text in texts.items()}
    postings = Postings.of(terms.items())
    await conn.execute("CREATE TEMP TABLE search_docs (name text, v tsvector)")
    await conn.executemany(
        "INSERT INTO search_docs VALUES ($1, to_tsvector('english', $2))", list(texts.items())
    )
    matched = 0
    for query in _queries(snapshot.tools):
        rows = await conn.fetch(
            "SELECT name, ts_rank(v, websearch_to_tsquery('english', $1))::float8 AS r "
            "FROM search_docs WHERE v @@ websearch_to_tsquery('english', $1) "
            "ORDER BY r DESC, name DESC",
            query,
        )
        expected = [(r["r"], r["name"]) for r in rows]
        # The same tools, in the same order, with the same float4 rank.
        assert search(query, terms, postings, list(terms)) == expected, query
        matched += bool(expected)
    assert matched > 150  # the set exercises ranking, not only empty answers


def test_websearch_syntax_makes_phrases_alternatives_and_exclusions() -> None:
    assert parse_query('"disk usage" or -memory cpu') == Or(
        (
            Phrase((("disk", 0), ("usag", 1))),
            And((Not(Phrase((("memori", 0),))), Phrase((("cpu", 0),)))),
        )
    )
    # A stopword inside quotes widens the distance; alone it leaves nothing to match.
    assert parse_query('"disk of usage"') == Phrase((("disk", 0), ("usag", 2)))
    assert parse_query("the of") is None


async def test_search_pages_follow_the_ranking_without_repeats(
    service: ToolCatalogService,
) -> None:
    snapshot = load_folder_snapshot(ROOT / "catalog", strict=False)
    await service.import_definitions(list(snapshot.tools))
    whole = await service.list_tools(ToolFilter(q="disk or memory or logs"), limit=500)
    assert whole.total == len(whole.items) > 20
    seen: list[str] = []
    cursor = None
    while True:
        page = await service.list_tools(
            ToolFilter(q="disk or memory or logs"), limit=7, cursor=cursor
        )
        assert page.total == whole.total
        seen += [item.tool.name for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [item.tool.name for item in whole.items]
