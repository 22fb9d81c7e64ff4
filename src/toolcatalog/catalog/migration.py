"""Migrating a running OpsConductor (seed) database: its tools converted like its files, and
its audit log and telemetry carried over with the tools they belong to."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from toolcatalog.formats.definitions import LoadResult
from toolcatalog.formats.opsconductor.database import SeedKey, convert_rows
from toolcatalog.formats.opsconductor.naming import Naming
from toolcatalog.formats.opsconductor.report import MigrationReport
from toolcatalog.store import audit as audit_store
from toolcatalog.store import telemetry as telemetry_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.seed_catalog import read_seed_catalog, stream_seed_telemetry
from toolcatalog.store.telemetry import TelemetryWrite

# The seed's audit actions as ours; the rest ("deprecated", "activated") changed the tool.
AUDIT_ACTIONS = {
    "created": "create", "updated": "update", "deleted": "delete", "enabled": "enable",
    "disabled": "disable",
}  # fmt: skip
DIFF_OPS = {"created": "add", "deleted": "remove"}


# The audit entry that records a tool's migrated history, and marks it as done.
MIGRATION_ACTOR = "opsconductor-migration"


@dataclass
class ImportedHistory:
    """The seed's audit entries and telemetry, written with the tools they name: once per tool,
    the first time an import creates or changes it (a marker entry records that it was). The
    telemetry is streamed from the seed database at `source` while it is written."""

    audit: list[AuditWrite] = field(default_factory=list)
    source: str | None = None
    telemetry_tools: set[str] = field(default_factory=set)  # ours, with telemetry in the seed
    patterns: dict[SeedKey, SeedKey] = field(default_factory=dict)  # seed names -> ours
    seed_names: dict[str, str] = field(default_factory=dict)  # our tool names -> the seed's

    async def write(self, conn: Any, changed: set[str]) -> tuple[int, int]:
        """Within the caller's transaction; returns the audit entries and telemetry rows written."""
        todo = changed & ({a.tool_name for a in self.audit if a.tool_name} | self.telemetry_tools)
        todo -= await audit_store.fetch_tools_audited_by(conn, MIGRATION_ACTOR, sorted(todo))
        audit = [a for a in self.audit if a.tool_name in todo]
        written: Counter[str] = Counter()
        wanted = sorted(self.seed_names[name] for name in todo & self.telemetry_tools)
        if self.source is not None and wanted:
            async for batch in stream_seed_telemetry(self.source, wanted):
                rows = [
                    _telemetry(row, self.patterns[key])
                    for row in batch
                    if (key := (row["tool_name"], row["capability_name"], row["pattern_name"]))
                    in self.patterns
                ]
                await telemetry_store.insert_telemetry(conn, rows)
                written.update(r.tool_name for r in rows)
        markers = [
            AuditWrite(
                actor=MIGRATION_ACTOR,
                action="import",
                tool_name=name,
                revision_before=None,
                revision_after=None,
                diff=[{"op": "add", "path": "opsconductor.history", "to": {
                    "audit": sum(a.tool_name == name for a in audit), "telemetry": written[name],
                }}],
            )
            for name in sorted(todo)
        ]  # fmt: skip
        await audit_store.insert_audit(conn, [*audit, *markers])
        return len(audit), sum(written.values())


@dataclass
class DatabaseMigration:
    result: LoadResult
    report: MigrationReport
    history: ImportedHistory
    counted: dict[str, int]  # rows of seed tables that have no home here (A/B tests, cache)
    absent: list[str]  # seed tables the database does not have


async def read_opsconductor_database(url: str, naming: Naming | None) -> DatabaseMigration:
    """Read and convert everything at `url`; StoreUnavailable or InvalidDefinition as
    `read_seed_catalog`. Conversion is CPU work: it runs beside the event loop."""
    rows = await read_seed_catalog(url)
    result, report, patterns, names = await asyncio.to_thread(
        convert_rows, rows.tools, rows.source, naming
    )
    history = ImportedHistory(
        audit=[_audit(a, names[a["tool_name"]]) for a in rows.audit if a["tool_name"] in names],
        source=url,
        telemetry_tools={names[t] for t in rows.telemetry if t in names},
        patterns=patterns,
        seed_names={ours: seed for seed, ours in names.items()},
    )
    return DatabaseMigration(result, report, history, rows.counted, rows.absent)


def _audit(row: dict[str, Any], tool: str) -> AuditWrite:
    action = str(row["action"])
    change = {
        "op": DIFF_OPS.get(action, "change"),
        "path": f"opsconductor.{row['entity_type']}[{row['entity_id']}]",
        "to": row["changes"],
        "seed_action": action,
    }
    if row.get("reason"):
        change["reason"] = row["reason"]
    return AuditWrite(
        actor=f"opsconductor:{row['changed_by']}",
        action=AUDIT_ACTIONS.get(action, "update"),
        tool_name=tool,
        revision_before=None,
        revision_after=None,
        diff=[change],
        client_address=row.get("ip_address"),
        occurred_at=row["changed_at"],
    )


def _telemetry(row: dict[str, Any], ours: SeedKey) -> TelemetryWrite:
    inputs = row["context_variables"] if isinstance(row["context_variables"], dict) else {}
    return TelemetryWrite(
        observed_at=row["executed_at"] or datetime.now(UTC),
        tool_name=ours[0],
        capability=ours[1],
        pattern=ours[2],
        duration_ms=float(max(row["actual_time_ms"], 0)),
        cost=max(row["actual_cost"], 0.0) if row["actual_cost"] is not None else None,
        success=bool(row["success"]),
        inputs=inputs,
        request_id=row.get("execution_id"),
    )
