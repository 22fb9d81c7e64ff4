"""The in-memory full-text search (catalog/search_index.py, text_query.py) against PostgreSQL's
own `to_tsvector('english', ...)`, `websearch_to_tsquery` and `ts_rank` on the starter
catalog: the same lexemes and positions, the same matches, ranks and order, searching the
whole text or only some fields."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from toolcatalog.catalog import text_query
from toolcatalog.catalog.entries import tool_terms
from toolcatalog.catalog.lexicon import LEXICON
from toolcatalog.catalog.search_index import Postings, _matches, _positions, _rank, search
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.text_query import (
    And,
    Not,
    Or,
    Phrase,
    lexemes,
    parse_query,
    query_lexemes,
    search_text,
    tokens,
)
from toolcatalog.model.listing import ToolFilter
from toolcatalog.selection.loader import load_folder_snapshot

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
    terms = {name: LEXICON.encode(tokens(text)) for name, text in texts.items()}
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
        assert list(search(query, terms, postings, list(terms))) == expected, query
        matched += bool(expected)
    assert matched > 150  # the set exercises ranking, not only empty answers


# The database's document for a search restricted to `$2` fields (the SQL that answered
# `fields=` before search moved into memory, migration 0007), over the imported rows.
_FIELDS_VECTOR = """to_tsvector('english', concat_ws(' ',
    CASE WHEN $2::text[] && ARRAY['name', 'tool_name']
         THEN replace(t.name, '_', ' ') || ' ' || coalesce(t.display_name, '') END,
    CASE WHEN 'description' = ANY($2::text[]) THEN t.description END,
    CASE WHEN 'category' = ANY($2::text[]) THEN replace(t.category, '_', ' ') END,
    CASE WHEN 'platform' = ANY($2::text[]) THEN t.platform END,
    CASE WHEN 'tags' = ANY($2::text[]) THEN array_to_string(t.tags, ' ') END,
    CASE WHEN 'examples' = ANY($2::text[]) THEN array_to_string(t.examples, ' ') END,
    CASE WHEN 'capabilities' = ANY($2::text[]) THEN (
        SELECT string_agg(replace(c.name, '_', ' ') || ' ' || c.description, ' '
                          ORDER BY c.position)
        FROM tool_capabilities c WHERE c.tool_id = t.id) END))"""

FIELD_SETS = [
    ("tool_name",),
    ("description",),
    ("tool_name", "description"),
    ("category",),
    ("platform",),
    ("tags",),
    ("examples",),
    ("capabilities",),
    ("category", "platform", "name"),
    ("name", "description", "category", "platform", "tags", "examples", "capabilities"),
]


async def test_searches_restricted_to_fields_match_and_rank_as_postgresql(
    service: ToolCatalogService, conn: Any
) -> None:
    snapshot = load_folder_snapshot(ROOT / "catalog", strict=False)
    await service.import_definitions(list(snapshot.tools))
    await conn.execute("CREATE TEMP TABLE field_docs (k int, name text, v tsvector)")
    for k, fields in enumerate(FIELD_SETS):
        await conn.execute(
            f"INSERT INTO field_docs SELECT $1, t.name, {_FIELDS_VECTOR} FROM tools t",  # noqa: S608
            k,
            list(fields),
        )
    version = await service.state.version()
    matched = 0
    # The query syntax, then every third held-out request and name word (~25 s for all of them).
    queries = _queries(snapshot.tools)
    for query in [*SYNTAX, *queries[len(SYNTAX) :: 3], "linux", "cloud or windows", "kubernetes"]:
        rows = await conn.fetch(
            "SELECT k, name, ts_rank(v, websearch_to_tsquery('english', $1))::float8 AS r "
            "FROM field_docs WHERE v @@ websearch_to_tsquery('english', $1) "
            "ORDER BY k, r DESC, name DESC",
            query,
        )
        for k, fields in enumerate(FIELD_SETS):
            expected = [(r["r"], r["name"]) for r in rows if r["k"] == k]
            # The same tools, in the same order, with the same float4 rank.
            assert list(version.ranked(ToolFilter(q=query, search_fields=fields))) == expected, (
                fields,
                query,
            )
            matched += bool(expected)
    assert matched > 400
    # Pages of a restricted search come from the same ranking.
    page = await service.list_tools(ToolFilter(q="linux", search_fields=("platform",)), limit=5)
    assert page.total == sum(t.platform.value == "linux" for t in snapshot.tools) > 5
    assert [i.tool.platform.value for i in page.items] == ["linux"] * 5


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


def test_a_writes_lexemes_made_piece_by_piece_are_the_whole_texts() -> None:
    # A write's plan makes each piece of the text through a memo (entries.tool_terms): no
    # token spans two pieces, so the pieces' lexemes one after the other are the whole's.
    snapshot = load_folder_snapshot(ROOT / "catalog")
    for tool in snapshot.tools:
        assert tool_terms(tool, remembered=True) == tool_terms(tool), tool.name
        assert LEXICON.decode(tool_terms(tool)) == tokens(search_text(tool)), tool.name


def test_word_queries_rank_as_the_general_walk_of_the_query() -> None:
    # Searches of one word or words joined by AND skip the walk of the query (search_index.
    # _ranked_all_of) and the candidates go in the names' order: same matches, ranks and
    # order as _matches and _rank over _positions, which the tests above pin to PostgreSQL.
    # Few lexemes, repeated, with stopword holes and ties by the hundred.
    rng = random.Random(1416)
    vocabulary = ["disk", "usag", "tool", "generat", "log", "rotat", None]
    terms_of = {
        f"tool_{i:04d}": LEXICON.encode(rng.choice(vocabulary) for _ in range(rng.randint(1, 40)))
        for i in range(1500)
    }
    # Positions capped at 16,383.
    terms_of["tool_long"] = LEXICON.encode(("disk",) * 16_390 + ("tool",))
    postings = Postings.of(terms_of.items())
    every = tuple(sorted(terms_of))
    words = ["disk", "usage", "tool", "generated", "log", "rotate", "absent"]
    queries = [*words, *(f"{a} {b}" for a in words for b in words), "disk tool log rotate"]
    for query in queries:
        node = parse_query(query)
        assert node is not None
        items = query_lexemes(node)
        walked = []
        for name in every:
            pos = _positions(terms_of[name], items)
            if _matches(node, pos):
                walked.append((_rank(node, items, pos), name))
        walked.sort(reverse=True)
        assert list(search(query, terms_of, postings, every)) == walked, query
        assert list(search(query, terms_of, None, every[::-1])) == walked, query


def test_the_lexemes_of_chunks_met_before_are_those_made_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [
        "Restart the nginx-web service; check http://db2.example.com:5432/status (v1.2.3).",
        "restart NGINX-web services, then check_disk_usage on db2.example.com --force",
        "The the of and: -5 +3 user@example.com 10.0.0.1/24 ~/.ssh/config",
    ]
    fresh = []
    for text in texts:
        text_query._chunk_lexemes.clear()
        fresh.append(text_query.tokens(text))
    assert [text_query.tokens(t) for t in texts * 2] == fresh * 2  # from the memo now
    monkeypatch.setattr(text_query, "_CHUNKS_MAX", 3)  # bounded: cleared when full
    text_query._chunk_lexemes.clear()
    assert [text_query.tokens(t) for t in texts] == fresh
    assert len(text_query._chunk_lexemes) <= 3
