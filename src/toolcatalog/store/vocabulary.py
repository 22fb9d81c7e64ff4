"""SQL for tool_vocabulary: the shared capability names and their aliases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from toolcatalog.model.vocabulary import VocabularyEntry


def row_to_entry(row: Any) -> VocabularyEntry:
    return VocabularyEntry(
        name=row["name"], description=row["description"], aliases=list(row["aliases"])
    )


async def fetch_vocabulary(conn: Any) -> list[VocabularyEntry]:
    rows = await conn.fetch("SELECT name, description, aliases FROM tool_vocabulary ORDER BY name")
    return [row_to_entry(r) for r in rows]


async def replace_vocabulary(conn: Any, entries: Sequence[VocabularyEntry]) -> bool:
    """Make the stored vocabulary equal to `entries`; returns whether anything changed."""
    current = {e.name: e for e in await fetch_vocabulary(conn)}
    wanted = {e.name: e for e in entries}
    if current == wanted:
        return False
    await conn.execute("DELETE FROM tool_vocabulary")
    await conn.execute(
        "INSERT INTO tool_vocabulary (name, description, aliases) "
        "SELECT n, d, ARRAY(SELECT jsonb_array_elements_text(a::jsonb)) "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS t(n, d, a)",
        [e.name for e in entries],
        [e.description for e in entries],
        [orjson.dumps(list(e.aliases)).decode() for e in entries],
    )
    return True
