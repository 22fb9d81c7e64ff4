"""A scratch OpsConductor (seed system) database for migration tests: our own DDL of its table
shapes, filled the way the seed's migration script fills it from its YAML files (tool row, then
one row per capability and per pattern, with the script's defaults for absent fields, and no
optional inputs or examples, which the script did not store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

SCHEMA = Path(__file__).parent / "catalog" / "fixtures" / "opsconductor_schema.sql"
PATTERN_DEFAULTS: dict[str, Any] = {
    "time_estimate_ms": "1000", "cost_estimate": "1", "complexity_score": 0.5,
    "scope": "single_item", "completeness": "complete", "policy": {}, "preference_match": {},
    "required_inputs": [], "expected_outputs": [], "limitations": [], "typical_use_cases": [],
}  # fmt: skip
WHEN = datetime(2025, 10, 3, 19, 0, tzinfo=UTC)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def create_seed_database(url: str, docs: list[dict[str, Any]]) -> dict[str, int]:
    """Create the schema at `url` and insert `docs` (seed tool documents, mapping style);
    returns each tool's id by seed name."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA.read_text(encoding="utf-8"))
        return {doc["tool_name"]: await insert_tool(conn, doc) for doc in docs}
    finally:
        await conn.close()


async def insert_tool(conn: Any, doc: dict[str, Any], *, latest: bool = True) -> int:
    tool_id: int = await conn.fetchval(
        """
        INSERT INTO tool_catalog.tools (tool_name, version, description, platform, category,
            defaults, dependencies, metadata, created_by, is_latest)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, 'migration_script', $9)
        RETURNING id
        """,
        doc["tool_name"], str(doc["version"]), doc["description"], doc["platform"],
        doc["category"], _json(doc.get("defaults", {})), _json(doc.get("dependencies", [])),
        _json(doc.get("metadata", {})), latest,
    )  # fmt: skip
    for cap_name, cap in doc["capabilities"].items():
        cap_id = await conn.fetchval(
            "INSERT INTO tool_catalog.tool_capabilities (tool_id, capability_name, description)"
            " VALUES ($1, $2, $3) RETURNING id",
            tool_id, cap_name, cap.get("description", ""),
        )  # fmt: skip
        for pattern_name, pattern in cap.get("patterns", {}).items():
            row = {k: pattern.get(k, default) for k, default in PATTERN_DEFAULTS.items()}
            await conn.execute(
                """
                INSERT INTO tool_catalog.tool_patterns (capability_id, pattern_name, description,
                    typical_use_cases, time_estimate_ms, cost_estimate, complexity_score, scope,
                    completeness, limitations, policy, preference_match, required_inputs,
                    expected_outputs)
                VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb,
                    $12::jsonb, $13::jsonb, $14::jsonb)
                """,
                cap_id, pattern_name, pattern.get("description", ""),
                _json(row["typical_use_cases"]), str(row["time_estimate_ms"]),
                str(row["cost_estimate"]), float(row["complexity_score"]), row["scope"],
                row["completeness"], _json(row["limitations"]), _json(row["policy"]),
                _json(row["preference_match"]), _json(row["required_inputs"]),
                _json(row["expected_outputs"]),
            )  # fmt: skip
    return tool_id


async def add_history(url: str, tool_id: int, *, audit: int, telemetry: int) -> None:
    """`audit` audit entries and `telemetry` executions of the tool's first pattern, plus one
    A/B test row and one cache row (which have no home in our catalog)."""
    conn = await asyncpg.connect(url)
    try:
        for i in range(audit):
            await conn.execute(
                """
                INSERT INTO tool_catalog.tool_audit_log (tool_id, entity_type, entity_id, action,
                    changes, changed_by, changed_at, reason, ip_address)
                VALUES ($1, 'tool', $1, $2, $3::jsonb, 'alice', $4, 'seeded', '10.0.0.7')
                """,
                tool_id, "created" if i == 0 else "updated", _json({"step": i}),
                WHEN + timedelta(days=i),
            )  # fmt: skip
        pattern = await conn.fetchrow(
            """
            SELECT p.id AS pattern_id, c.id AS capability_id FROM tool_catalog.tool_patterns p
            JOIN tool_catalog.tool_capabilities c ON c.id = p.capability_id
            WHERE c.tool_id = $1 ORDER BY p.id LIMIT 1
            """,
            tool_id,
        )
        for i in range(telemetry):
            await conn.execute(
                """
                INSERT INTO tool_catalog.tool_telemetry (tool_id, capability_id, pattern_id,
                    execution_id, actual_time_ms, actual_cost, success, context_variables,
                    executed_at)
                VALUES ($1, $2, $3, $4, $5, 1.25, $6, $7::jsonb, $8)
                """,
                tool_id, pattern["capability_id"], pattern["pattern_id"], f"exec-{i}",
                100 + i, i % 4 != 0, _json({"N": i}), WHEN,
            )  # fmt: skip
        other = await conn.fetchval(
            "SELECT min(id) FROM tool_catalog.tools WHERE id <> $1", tool_id
        )
        if other is not None:
            await conn.execute(
                "INSERT INTO tool_catalog.tool_ab_tests (test_name, tool_a_id, tool_b_id)"
                " VALUES ('speed', $1, $2)",
                tool_id, other,
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO tool_catalog.tool_cache (cache_key, tool_data, expires_at)"
            " VALUES ('all', '{}', now())"
        )
    finally:
        await conn.close()
