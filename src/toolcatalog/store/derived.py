"""tool_cache: derived, recomputable artefacts shared by every replica, keyed by (kind, content
hash). Semantic retrieval keeps its text embeddings here, so a text is embedded once per
encoder, not once per replica and worker. Any row may be deleted at any time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from toolcatalog.store.database import Database

# Rows per statement: a bounded message size and time per round trip (5,000 embeddings of
# 1.5 KB each is ~7.5 MB).
BATCH = 5000


async def get_derived(db: Database, kind: str, hashes: Sequence[str]) -> dict[str, bytes]:
    """The payloads stored for `hashes` of `kind` (those missing are left out)."""
    found: dict[str, bytes] = {}
    for at in range(0, len(hashes), BATCH):
        async with db.connection("derived_get") as conn:
            rows = await conn.fetch(
                "SELECT content_hash, payload FROM tool_cache"
                " WHERE kind = $1 AND content_hash = ANY($2::text[])",
                kind,
                list(hashes[at : at + BATCH]),
            )
        found.update((r["content_hash"], bytes(r["payload"])) for r in rows)
    return found


async def put_derived(db: Database, kind: str, payloads: Mapping[str, bytes]) -> None:
    """Store `payloads` of `kind`; a row already there is kept (same content, same result)."""
    items = list(payloads.items())
    for at in range(0, len(items), BATCH):
        chunk = items[at : at + BATCH]
        async with db.transaction("derived_put") as conn:
            await conn.execute(
                "INSERT INTO tool_cache (kind, content_hash, payload)"
                " SELECT $1, h, p FROM unnest($2::text[], $3::bytea[]) AS t(h, p)"
                " ON CONFLICT (kind, content_hash) DO NOTHING",
                kind,
                [h for h, _ in chunk],
                [p for _, p in chunk],
            )


async def forget_derived(
    db: Database, kind: str, keep: Sequence[str], older_than_s: float, family: str
) -> int:
    """Delete the rows of `kind` older than `older_than_s` seconds but those of `keep`, and
    the rows that old of every other kind starting with `family` (an older encoder's): the
    number of rows deleted. Rows younger than that are kept (another replica may be on a
    newer catalog version that uses them)."""
    async with db.transaction("derived_forget") as conn:
        stale = await conn.execute(
            "DELETE FROM tool_cache WHERE kind = $1"
            " AND created_at < now() - make_interval(secs => $2)"
            " AND NOT content_hash = ANY($3::text[])",
            kind,
            older_than_s,
            list(keep),
        )
        foreign = await conn.execute(
            "DELETE FROM tool_cache WHERE starts_with(kind, $1) AND kind <> $2"
            " AND created_at < now() - make_interval(secs => $3)",
            family,
            kind,
            older_than_s,
        )
    return int(stale.split()[-1]) + int(foreign.split()[-1])  # "DELETE n" each
