"""SQL for listing and searching tools with filters and keyset pagination.

Pages are keyed on (rank, name) for full-text queries and on name otherwise, so a page
boundary stays put while other tools are inserted (no OFFSET drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolcatalog.model.listing import ToolFilter
from toolcatalog.store.tools import ToolRecord, row_to_record


@dataclass(frozen=True, slots=True)
class ListedTool:
    record: ToolRecord
    rank: float


# The document `q` is matched against: the indexed `search` column, or, when the search is
# restricted to some fields, a vector built from just those (computed per row: a catalog
# holds thousands of tools, not millions).
_VECTOR = """(CASE WHEN cardinality($9::text[]) = 0 THEN search
    ELSE to_tsvector('english', concat_ws(' ',
    CASE WHEN $9::text[] && ARRAY['name', 'tool_name']
         THEN replace(name, '_', ' ') || ' ' || coalesce(display_name, '') END,
    CASE WHEN 'description' = ANY($9::text[]) THEN description END,
    CASE WHEN 'category' = ANY($9::text[]) THEN replace(category, '_', ' ') END,
    CASE WHEN 'platform' = ANY($9::text[]) THEN platform END,
    CASE WHEN 'tags' = ANY($9::text[]) THEN array_to_string(tags, ' ') END,
    CASE WHEN 'examples' = ANY($9::text[]) THEN array_to_string(examples, ' ') END,
    CASE WHEN 'capabilities' = ANY($9::text[]) THEN (
        SELECT string_agg(replace(c.name, '_', ' ') || ' ' || c.description, ' ')
        FROM tool_capabilities c WHERE c.tool_id = tools.id) END)) END)"""

_WHERE = f"""
    ($1::text IS NULL OR platform = $1)
    AND ($2::text IS NULL OR category = $2)
    AND ($3::text IS NULL OR status = $3)
    AND (cardinality($4::text[]) = 0 OR tags @> $4::text[])
    AND ($5::text IS NULL OR EXISTS (
        SELECT 1 FROM tool_capabilities c WHERE c.tool_id = tools.id AND c.name = $5))
    AND ($6::boolean IS NULL OR enabled = $6)
    AND ($7::text IS NULL OR {_VECTOR} @@ websearch_to_tsquery('english', $7))
    AND ($8::timestamptz IS NULL OR updated_at >= $8)
"""  # noqa: S608

_COLUMNS = "id, name, revision, etag, definition, created_at, updated_at"
_RANKED_FROM = (
    "FROM (SELECT *, ts_rank(" + _VECTOR + ", websearch_to_tsquery('english', $7))::float8 AS r "
    "FROM tools WHERE"
)
_RANKED_END = (
    ") ranked WHERE $10::text IS NULL OR (r, name) < ($11::float8, $10) "
    "ORDER BY r DESC, name DESC LIMIT $12"
)
_BY_NAME_END = " AND ($10::text IS NULL OR name > $10) ORDER BY name LIMIT $11"
# Built once from constants; every value is a $n parameter.
_RANKED_SQL = f"SELECT {_COLUMNS}, r AS rank {_RANKED_FROM}{_WHERE}{_RANKED_END}"
_BY_NAME_SQL = f"SELECT {_COLUMNS}, 0.0 AS rank FROM tools WHERE{_WHERE}{_BY_NAME_END}"  # noqa: S608
_COUNT_SQL = f"SELECT count(*) FROM tools WHERE{_WHERE}"  # noqa: S608


def _params(f: ToolFilter) -> list[Any]:
    return [
        f.platform,
        f.category,
        f.status,
        list(f.tags),
        f.capability,
        f.enabled,
        f.q or None,
        f.updated_since,
        list(f.search_fields),
    ]


async def list_tools(
    conn: Any,
    filters: ToolFilter,
    *,
    limit: int,
    after_name: str | None = None,
    after_rank: float | None = None,
) -> list[ListedTool]:
    """One page, ordered by rank (with `q`) then name; `after_*` is the previous page's last."""
    if filters.q:
        # Ranked: descending (rank, name) as one row value, so the keyset is a single compare.
        rows = await conn.fetch(
            _RANKED_SQL,
            *_params(filters), after_name, after_rank, limit,
        )  # fmt: skip
    else:
        rows = await conn.fetch(
            _BY_NAME_SQL,
            *_params(filters), after_name, limit,
        )  # fmt: skip
    return [ListedTool(row_to_record(r), float(r["rank"])) for r in rows]


_RANKED_NAMES_SQL = f"SELECT name, r AS rank {_RANKED_FROM}{_WHERE}{_RANKED_END}"


async def rank_names(
    conn: Any,
    filters: ToolFilter,
    *,
    limit: int,
    after_name: str | None = None,
    after_rank: float | None = None,
) -> list[tuple[str, float]]:
    """One page of a full-text query (`filters.q` set) as (name, rank), best first: the
    ranking without the definitions, for callers that hold the tools already."""
    rows = await conn.fetch(
        _RANKED_NAMES_SQL,
        *_params(filters), after_name, after_rank, limit,
    )  # fmt: skip
    return [(r["name"], float(r["rank"])) for r in rows]


async def count_matching(conn: Any, filters: ToolFilter) -> int:
    return int(await conn.fetchval(_COUNT_SQL, *_params(filters)))


async def capability_index(conn: Any) -> dict[str, list[str]]:
    """Every capability name with the tools that offer it."""
    rows = await conn.fetch(
        "SELECT c.name, array_agg(t.name ORDER BY t.name) AS tools "
        "FROM tool_capabilities c JOIN tools t ON t.id = c.tool_id "
        "GROUP BY c.name ORDER BY c.name"
    )
    return {r["name"]: list(r["tools"]) for r in rows}
