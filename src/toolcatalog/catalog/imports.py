"""CatalogImports: many tools created or updated at once, all or nothing. Validated by the
caller (formats, API), planned by a pure function (import_plan.py), applied in one
transaction with set-based statements, published once."""

from __future__ import annotations

import asyncio
from collections import ChainMap
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.catalog.environments import import_environments
from toolcatalog.catalog.import_plan import (
    Drift,
    ImportPlan,
    Prepared,
    plan_import,
    prepare,
    refuse_duplicate_names,
    stored_otherwise,
)
from toolcatalog.catalog.migration import ImportedHistory
from toolcatalog.catalog.writes import Actor, CatalogWrites, audit_entry, record_history
from toolcatalog.collector import collector_paused
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.store import tools as tool_store
from toolcatalog.store import vocabulary as vocabulary_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.changes import Published
from toolcatalog.store.tools import ToolHead, ToolRecord, ToolWrite


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False
    generation: int | None = None
    history: tuple[int, int] = (0, 0)  # migrated audit entries and telemetry rows written
    drifted: list[Drift] = field(default_factory=list)  # upstream changed since pinned

    @property
    def held(self) -> list[str]:
        """Drifted tools left as they were (not accepted)."""
        return [d.name for d in self.drifted if not d.accepted]

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated)


# Imports of this many tools run with the cyclic collector paused (see import_definitions).
_PAUSE_COLLECTOR_FROM = 1_000
# Tools planned and written at a time (see _apply_in_chunks).
_CHUNK = 2_000


class _DryRunRollback(Exception):
    """Raised inside a dry-run transaction to roll it back."""


class CatalogImports(CatalogWrites):
    """CatalogWrites plus the import of many definitions in one transaction."""

    async def import_definitions(
        self,
        tools: Sequence[Tool],
        *,
        actor: Actor = Actor(),
        overwrite: bool = True,
        dry_run: bool = False,
        vocabulary: Vocabulary | None = None,
        history: ImportedHistory | None = None,
        environments: EnvironmentPolicies | None = None,
        accept_drift: bool | Collection[str] = False,
    ) -> ImportReport:
        """Create or update many tools in one transaction: all or nothing (see plan_import;
        `accept_drift` says which drifted upstream tools to update).
        `dry_run` runs the whole transaction, including database constraints, then rolls
        it back. `history` (migrated from the seed) is written, once, for the tools this
        import creates or changes, in the same transaction."""
        report = ImportReport(dry_run=dry_run)
        published: Published | None = None
        # The import's own work allocates millions of objects at 100,000 tools (documents,
        # rows, diffs) beside the caller's validated tools: the cyclic collector walking them
        # was half its Python time (10,000 tools: 3.4 -> 1.6 s of CPU paused). Other requests'
        # cyclic garbage meanwhile waits for the end of the import, not longer.
        with collector_paused() if len(tools) >= _PAUSE_COLLECTOR_FROM else nullcontext():
            try:
                async with self.db.transaction("import") as conn:
                    existing = await tool_store.fetch_tool_heads(
                        conn, [t.name for t in tools], for_update=True
                    )
                    refuse_duplicate_names(tools)
                    vocabulary_changed = False
                    if vocabulary is not None:
                        vocabulary_changed = await vocabulary_store.replace_vocabulary(
                            conn, vocabulary.vocabulary
                        )
                    if environments is not None:
                        names = await import_environments(conn, actor, environments)
                        vocabulary_changed = vocabulary_changed or bool(names)
                    plan = await self._apply_in_chunks(
                        conn, tools, existing, actor, overwrite, accept_drift
                    )
                    report.created, report.updated = plan.created, plan.updated
                    report.drifted = plan.drifted
                    report.unchanged, report.skipped = plan.unchanged, plan.skipped
                    if report.changed or vocabulary_changed:
                        if history is not None:
                            changed = {*report.created, *report.updated}
                            report.history = await history.write(conn, changed)
                        published = await self.publish(
                            conn, [*report.created, *report.updated], everything=vocabulary_changed
                        )
                        report.generation = published.generation
                    if dry_run:
                        raise _DryRunRollback
            except _DryRunRollback:
                report.generation = None
                return report
        if published is not None:
            self.announce(
                published, [*report.created, *report.updated], everything=vocabulary_changed
            )
            await self.state.reread(
                [*report.created, *report.updated], everything=vocabulary_changed
            )
        return report

    async def _apply_in_chunks(
        self,
        conn: Any,
        tools: Sequence[Tool],
        existing: dict[str, ToolHead],
        actor: Actor,
        overwrite: bool,
        accept_drift: bool | Collection[str],
    ) -> ImportPlan:
        """Plan and write the tools _CHUNK at a time in the caller's transaction, the next
        chunk's documents and content hashes made in a worker thread while PostgreSQL writes
        the previous one; returns the whole plan's outcome (its names, not its writes).

        Only the stored definitions of tools whose content hash differs are fetched (to plan
        an update, its audit diff, a pinned tool's drift): a re-import of unchanged tools
        reads no documents (20,000 generated tools: ~1 s of PostgreSQL CPU to send them and
        ~1 s of the loop's to decode them, at load ~4).

        One connection: session 13 staged the new tools rows over a second one (b29c8f6),
        which on these 2 shared cores made the import slower, not faster (100,000 tools, two
        interleaved pairs at load 5-8: 40.7 / 46.9 s staged against 37.8 / 31.7 s direct,
        and the re-import right after 11.6 / 12.5 s against 6.3 / 6.4 s; docs/performance.md,
        session 14): a third busy process, ~1.4 s more of PostgreSQL's CPU and 100,000 dead
        staging rows for autovacuum, on cores the import's own chain already waits for."""

        def planned(
            chunk: Sequence[Prepared], stored: Mapping[str, Any]
        ) -> tuple[ImportPlan, list[AuditWrite]]:
            part = plan_import(chunk, stored, overwrite=overwrite, accept_drift=accept_drift)
            writes = [(w, None) for w in part.inserts] + part.updates
            return part, [audit_entry(actor, "import", w, old) for w, old in writes]

        def start(chunk: Sequence[Tool] | None) -> asyncio.Future[Any] | None:
            return asyncio.ensure_future(asyncio.to_thread(prepare, chunk)) if chunk else None

        whole = ImportPlan()
        chunks = [tools[i : i + _CHUNK] for i in range(0, len(tools), _CHUNK)]
        if not chunks:  # an import of a vocabulary or environments alone
            return whole
        planning = start(chunks[0])
        try:
            for following in [*chunks[1:], None]:
                assert planning is not None
                prepared = await planning
                planning = start(following)
                differing = stored_otherwise(prepared, existing)
                records = await tool_store.fetch_tools(conn, differing) if differing else {}
                stored = ChainMap[str, Any](records, existing)
                part, audits = await asyncio.to_thread(planned, prepared, stored)
                ids = await tool_store.insert_tools(conn, part.inserts)
                ids |= await tool_store.update_tools(conn, [w for w, _ in part.updates])
                writes: list[tuple[ToolWrite, ToolRecord | None, int]]
                writes = [(w, None, ids[w.tool.name]) for w in part.inserts]
                writes += [(w, old, ids[w.tool.name]) for w, old in part.updates]
                await record_history(conn, actor, writes, "import", audits)
                # The chunk's documents and diffs die here, by reference counting, while the
                # collector is paused: kept to the end of the import, they were what its first
                # collection after the pause walked (5,000 tools: 0.57 s -> 1 ms at load 8).
                part.inserts, part.updates = [], []
                del writes, audits, prepared, records, stored
                whole.extend(part)
        finally:
            if planning is not None:  # refused: the thread's result is not wanted
                planning.cancel()
        return whole
