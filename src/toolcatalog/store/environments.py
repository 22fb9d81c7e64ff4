"""SQL for tool_environments: each environment's policy rules (see model/environment.py)."""

from __future__ import annotations

from typing import Any

from toolcatalog.model.environment import EnvironmentPolicies, EnvironmentRules


def row_to_rules(row: Any) -> EnvironmentRules:
    return EnvironmentRules.model_validate(row["rules"])


async def fetch_environments(conn: Any) -> EnvironmentPolicies | None:
    """The stored policies, or None when no environment is stored (the defaults apply)."""
    rows = await conn.fetch("SELECT name, rules FROM tool_environments ORDER BY name")
    if not rows:
        return None
    return EnvironmentPolicies(environments={r["name"]: row_to_rules(r) for r in rows})


async def fetch_environment_revision(conn: Any, name: str) -> int:
    """The environment's revision (0 when it is not stored), row locked for the write."""
    found = await conn.fetchval(
        "SELECT revision FROM tool_environments WHERE name = $1 FOR UPDATE", name
    )
    return int(found or 0)


async def upsert_environment(conn: Any, name: str, rules: EnvironmentRules) -> int:
    """Store `rules` for `name`; returns the new revision."""
    return int(
        await conn.fetchval(
            """
            INSERT INTO tool_environments (name, rules) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE
               SET rules = EXCLUDED.rules, revision = tool_environments.revision + 1,
                   updated_at = now()
            RETURNING revision
            """,
            name,
            rules.model_dump(mode="json"),
        )
    )


async def replace_environments(conn: Any, policies: EnvironmentPolicies) -> list[str]:
    """Make the stored environments equal to `policies`; returns the names that changed
    (written, or removed because `policies` no longer defines them)."""
    current = await fetch_environments(conn)
    stored = current.environments if current is not None else {}
    changed = [n for n, r in policies.environments.items() if stored.get(n) != r]
    removed = sorted(set(stored) - set(policies.environments))
    for name in changed:
        await upsert_environment(conn, name, policies.environments[name])
    if removed:
        await conn.execute("DELETE FROM tool_environments WHERE name = ANY($1::text[])", removed)
    return sorted([*changed, *removed])
