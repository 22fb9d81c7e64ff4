"""Composition root: `open_runtime(settings)` builds the database, the catalog service, the
API-key service, the change listener and the selector, and tears them down in reverse. The
doors reach the store only through here (migrations, the embedded server). Nothing happens
at import."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from toolcatalog import metrics
from toolcatalog.catalog.backup import BackupReport, RestoreReport, restore_backup, write_backup
from toolcatalog.catalog.changes import ChangeListener, ChangeNotice
from toolcatalog.catalog.experiments import ExperimentService
from toolcatalog.catalog.feedback import FeedbackService
from toolcatalog.catalog.health import DatabaseHealth
from toolcatalog.catalog.heap import release_free_memory
from toolcatalog.catalog.imports import ImportReport
from toolcatalog.catalog.keys import ApiKeyService, ensure_initial_admin_key
from toolcatalog.catalog.selection_log import SelectionLog
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.telemetry import TelemetryService
from toolcatalog.catalog.writes import Actor
from toolcatalog.config import Settings, toolcatalog_version
from toolcatalog.errors import CatalogError
from toolcatalog.formats.catalog_folder import read_catalog_folder
from toolcatalog.selection.loader import ProfileLoader
from toolcatalog.selection.process import SelectionProcess
from toolcatalog.selection.refresh import LearningRefresher
from toolcatalog.selection.saved_index import SavedIndex
from toolcatalog.selection.selector import EMBEDDING_STOP_S, Selector
from toolcatalog.selection.shared_vectors import DatabaseVectors
from toolcatalog.store import migrate as migrations
from toolcatalog.store.database import Database
from toolcatalog.store.migrate import MigrationState as MigrationState
from toolcatalog.store.migrate import migration_status

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    catalog: ToolCatalogService
    instance_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    listener: ChangeListener | None = None
    version: str = field(default_factory=toolcatalog_version)
    # The Stage B selector over this runtime's catalog (rebuilt per catalog generation), or
    # the handle of the process that runs it (a server worker's, TOOLCATALOG_SELECT_PROCESS).
    selector: Selector | SelectionProcess = field(kw_only=True)
    # What health reports about the database, probed in the background.
    health: DatabaseHealth = field(kw_only=True)
    # API keys, with the keys this process verified (forgotten on every key change notice).
    keys: ApiKeyService = field(kw_only=True)
    # Every selector answer by its selection_id, written in batches off the request path.
    selections: SelectionLog = field(kw_only=True)
    # Outcome telemetry: ingestion, observed figures per pattern, retention.
    telemetry: TelemetryService = field(kw_only=True)
    # Verdicts on selections, read back as labelled requests.
    feedback: FeedbackService = field(kw_only=True)
    # A/B experiments over the selector's configuration.
    experiments: ExperimentService = field(kw_only=True)
    # Brings observed profiles (and feedback, experiments) into the selector's memory.
    learning: LearningRefresher = field(kw_only=True)


async def import_catalog_if_empty(runtime: Runtime) -> ImportReport | None:
    """First start: import the catalog folder into an empty database."""
    folder = runtime.settings.resolved_catalog_dir()
    if not runtime.settings.import_on_start or folder is None:
        return None
    if await runtime.catalog.tool_count() > 0:
        return None
    read = read_catalog_folder(folder)
    report = await runtime.catalog.import_definitions(
        read.tools,
        actor=Actor("toolcatalog-serve"),
        vocabulary=read.vocabulary,
        environments=read.environments,
    )
    log.info(
        "imported the starter catalog",
        extra={"folder": str(folder), "tools_created": len(report.created)},
    )
    return report


async def first_start(runtime: Runtime) -> tuple[ImportReport | None, str | None]:
    """The starter catalog import and the first admin key, under the migration lock: replicas
    starting together on a fresh database do them once (the others find them done)."""
    async with migrations.migration_lock_at(
        runtime.db.url, wait_s=runtime.settings.startup_retry_s
    ):
        report = await import_catalog_if_empty(runtime)
        admin_key = await ensure_initial_admin_key(runtime.keys, runtime.settings.admin_key)
    return report, admin_key


async def _warm_up(runtime: Runtime) -> None:
    """Before serving: wait (bounded) for the change listener, so nothing cached from here on
    can miss a notice, then load the catalog snapshot the selector and metrics read."""
    assert runtime.listener is not None
    try:
        await asyncio.wait_for(
            runtime.listener.connected.wait(), timeout=runtime.settings.db_connect_timeout_s
        )
    except TimeoutError:
        # It keeps trying in the background and invalidates everything once connected.
        log.warning("change listener not connected yet; serving anyway")
    # The catalog version read now is saved for the next start once this one is done.
    runtime.catalog.state.saves_allowed.clear()
    try:
        await runtime.catalog.get_all_tools_with_structure()
        # Build the selector's index now: with semantic retrieval its tool embeddings start
        # computing in the background, instead of at the first select.
        began = time.monotonic()
        await runtime.selector.aselect_index()
        log.info("selector index built", extra={"seconds": round(time.monotonic() - began, 2)})
        # The read's decoded rows and the index build's scratch are garbage now (100,000
        # tools: ~0.6 GiB of the index build's alone, kept mapped by the C allocator).
        await asyncio.to_thread(release_free_memory)
    except CatalogError as exc:
        log.warning("could not load the catalog snapshot at start", extra={"error": exc.detail})
    finally:
        runtime.catalog.state.saves_allowed.set()


def _apply_notice(runtime: Runtime, notice: ChangeNotice) -> None:
    """A change notice from any replica: a key change (a revocation) makes this process
    forget the keys it verified, a catalog change goes to the catalog service."""
    if notice.keys_changed or notice.everything:
        runtime.keys.forget_verified()
    if not notice.keys_changed:
        runtime.catalog.apply_change(notice)


def _forget_everything(runtime: Runtime) -> None:
    """Notices may have been missed (listener reconnected, database back): forget every
    cached tool and every verified key."""
    runtime.keys.forget_verified()
    runtime.catalog.invalidate_all()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    db: Database | None = None,
    listen: bool = True,
    migrate: bool = True,
    select_process: bool = False,
    selection_only: bool = False,
) -> AsyncIterator[Runtime]:
    """Open everything the doors need. `db` may be given (tests pin it to one connection).
    `select_process`: the selector runs in a process of its own (selection/process.py; a
    server worker's, with a database of its own). `selection_only`: this is that process
    (toolcatalog.sidecar): no telemetry upkeep (its worker's), and the tools that notices
    name re-read at most every SELECTION_REREAD_PAUSE_S."""
    owns_db = db is None
    select_process = select_process and owns_db and listen
    database = db or Database(settings)
    await database.open()
    instance_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    catalog = ToolCatalogService(database, settings, instance_id=instance_id)
    if selection_only:
        catalog.state.rereads.pause_s = SELECTION_REREAD_PAUSE_S
    selector: Selector | SelectionProcess
    process: SelectionProcess | None = None
    if select_process:
        selector = process = SelectionProcess(settings, database.url)
    else:
        selector = Selector(
            ProfileLoader(source=catalog, config_path=settings.resolved_catalog_dir()),
            settings,
            # Embeddings are shared through the database from the embedding thread; a given
            # `db` (tests pin one connection) could not serve that beside its own requests.
            shared=DatabaseVectors(database, asyncio.get_running_loop()) if owns_db else None,
        )
    telemetry = TelemetryService(database, settings, catalog.state)
    selections = SelectionLog(database, retention_days=settings.telemetry_retention_days)
    feedback = FeedbackService(
        database,
        selections,
        telemetry,
        ensure_recorded=process.ensure_recorded if process is not None else None,
    )
    experiments = ExperimentService(database)
    runtime = Runtime(
        settings,
        database,
        catalog,
        instance_id,
        selector=selector,
        health=DatabaseHealth(catalog.tool_count, probe_timeout_s=settings.health_probe_timeout_s),
        keys=ApiKeyService(database, instance_id=instance_id),
        selections=selections,
        telemetry=telemetry,
        feedback=feedback,
        experiments=experiments,
        learning=LearningRefresher(
            selector,
            settings,
            observed=lambda since: telemetry.observed_stats(since=since),
            labelled=feedback.labelled,
            experiments=experiments.current,
            process=process,
        ),
    )
    if isinstance(selector, Selector):
        in_process = selector
        in_process.recorder = runtime.selections
        # The selector's index is saved and loaded with the catalog version (saved_index.py);
        # the selector's first build derives its index from the one loaded.
        catalog.state.saved.attachment = SavedIndex(lambda: in_process.current)
        in_process.resumed = catalog.state.saved.take_attached
    else:
        catalog.state.saved.writes = False  # the selection process saves it, index attached
    metrics.record_build_info(runtime.version)
    starting: asyncio.Task[None] | None = None
    try:
        if migrate:
            async with database.connection("migrate") as conn:
                applied = await migrations.migrate(conn, wait_s=settings.startup_retry_s)
            if applied:
                log.info("applied migrations", extra={"migrations": [m.name for m in applied]})
        # Back from an outage, this replica may have missed change notices: forget it all.
        database.add_recovery_callback(lambda: _forget_everything(runtime))
        if listen and owns_db:
            runtime.listener = ChangeListener(
                database.url,
                lambda notice: _apply_notice(runtime, notice),
                lambda: _forget_everything(runtime),
                connect_timeout_s=settings.db_connect_timeout_s,
            )
            runtime.listener.start()
            catalog.state.listening = runtime.listener.connected.is_set
            catalog.state.start_following()
            if process is not None:  # it reads the catalog while this process does
                starting = asyncio.create_task(process.start(), name="selection-process-start")
            await _warm_up(runtime)
            if starting is not None:
                await starting
            if not selection_only:
                runtime.telemetry.start()
        if owns_db:
            # A pinned `db` (tests) is one connection: they flush explicitly.
            runtime.selections.start()
            runtime.learning.start()
        yield runtime
    finally:
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        await runtime.catalog.queue.close()  # the writes in flight and queued land first
        await runtime.catalog.announcer.close()
        await runtime.telemetry.close()
        await runtime.learning.close()
        await runtime.selections.close()
        await runtime.health.close()
        if runtime.listener is not None:
            await runtime.listener.stop()
        if process is not None:
            await process.close()  # it drains and flushes its selection log first
        elif not await runtime.selector.close(EMBEDDING_STOP_S):
            _skip_finalisation_in_a_worker()
        await runtime.catalog.state.close()
        if owns_db:
            await database.close()


async def migrate_database(settings: Settings) -> tuple[str, list[str]]:
    """Apply pending migrations; returns the database (for display) and what was applied."""
    database = Database(settings)
    await database.open()
    try:
        async with database.connection("migrate") as conn:
            applied = await migrations.migrate(conn, wait_s=settings.startup_retry_s)
        return database.display_url, [f"{m.version:04d}_{m.name}" for m in applied]
    finally:
        await database.close()


async def database_migrations(settings: Settings) -> tuple[str, list[MigrationState]]:
    """Every migration, applied or pending; with the database (for display)."""
    database = Database(settings)
    await database.open()
    try:
        async with database.connection("migration_status") as conn:
            return database.display_url, await migration_status(conn)
    finally:
        await database.close()


async def backup_database(settings: Settings, path: Path) -> tuple[str, BackupReport]:
    """Write a backup of the whole database to `path` (with the database, for display)."""
    database = Database(settings)
    await database.open()
    try:
        report = await write_backup(database, path, release=toolcatalog_version())
        return database.display_url, report
    finally:
        await database.close()


async def restore_database(
    settings: Settings, path: Path, *, replace: bool = False
) -> tuple[str, RestoreReport]:
    """Restore the backup at `path` into the database (with it, for display)."""
    database = Database(settings)
    await database.open()
    try:
        report = await restore_backup(
            database, path, replace=replace, wait_s=settings.startup_retry_s
        )
        return database.display_url, report
    finally:
        await database.close()


# A selection process re-reads changed tools at most this often: with the selector's paced
# index builds (REBUILD_INTERVAL_S) a write shows in selection within about a second, as
# another replica's write does in a worker's.
SELECTION_REREAD_PAUSE_S = 0.2

# Set by `serve --workers N` to its own pid before it starts the workers.
WORKER_PARENT_PID_ENV = "TOOLCATALOG_WORKER_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A worker of `serve --workers N` gets SIGTERM (a graceful stop) when its parent dies,
    even by SIGKILL, instead of living on as an orphan that holds the port and uses the
    database. Linux only (prctl PR_SET_PDEATHSIG); a parent already gone means exit now."""
    expected = os.environ.get(WORKER_PARENT_PID_ENV)
    if not expected or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if str(os.getppid()) != expected:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _skip_finalisation_in_a_worker() -> None:
    """An embedding thread is still inside the encoder (ONNX Runtime) after the runtime
    closed: interpreter finalisation could hang on it. A worker of `serve --workers N` then
    ends with os._exit once its shutdown is done (its exit status means nothing to uvicorn's
    supervisor); `serve` with one worker always does (cli/serve.py); other processes (the
    CLI, tests) keep their normal exit and its status."""
    expected = os.environ.get(WORKER_PARENT_PID_ENV)
    log.warning(
        "an embedding thread is still inside the encoder after %s s; "
        "the process exits without waiting for it",
        EMBEDDING_STOP_S,
    )
    if expected and expected != str(os.getpid()):
        # Runs first of the exit handlers: they run last-in first-out.
        atexit.register(exit_without_finalising)


def exit_without_finalising() -> None:
    """Ends the process with status 0 after a graceful stop, once everything is closed,
    without the interpreter's finalisation: a daemon thread still inside a C extension (ONNX
    Runtime building the encoder) can make that hang, as one `serve` did for over 60 s after
    SIGTERM on a busy machine. Log handlers and the standard streams are flushed first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def database_server(settings: Settings) -> Database:
    """The database `serve` runs on, not yet opened: `start_embedded()` starts the embedded
    server unless DATABASE_URL is set, `close()` stops it."""
    return Database(settings)
