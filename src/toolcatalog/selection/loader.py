"""ProfileLoader: the pipeline's in-process view of the catalog, from the catalog service
(database) or a catalog folder (YAML), with a fallback that says what it fell back to."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from toolcatalog.errors import CatalogError, InvalidDefinition, Problem, StoreUnavailable
from toolcatalog.formats.catalog_folder import folder_environments
from toolcatalog.formats.definitions import iter_definition_files, load_paths, parse_text
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Capability, Tool
from toolcatalog.model.vocabulary import Vocabulary
from toolcatalog.selection.folder_cache import FolderSnapshotCache

log = logging.getLogger(__name__)


@runtime_checkable
class SnapshotSource(Protocol):
    """Anything that hands out the current immutable catalog; ToolCatalogService is one.
    It owns caching: the loader asks it on every load and rebuilds only on a new generation."""

    async def get_all_tools_with_structure(self) -> CatalogSnapshot: ...


def load_folder_snapshot(path: Path, generation: int = 1, strict: bool = True) -> CatalogSnapshot:
    """A snapshot of a catalog folder; raises InvalidDefinition when any file is invalid, or
    with `strict=False` leaves invalid files out and logs them (benchmarks on a folder that is
    being edited)."""
    result = load_paths([path])
    if strict:
        result.raise_if_invalid()
    for problem in result.problems:
        log.warning("left out of the snapshot: %s", problem)
    vocabulary: Vocabulary | None = None
    for vocab_file in result.vocabulary_files:
        data = parse_text(vocab_file.read_text(encoding="utf-8"), str(vocab_file))
        try:
            vocabulary = Vocabulary.model_validate(data)
        except ValueError as exc:
            raise InvalidDefinition(
                f"{vocab_file} is not a valid vocabulary", [Problem("", str(exc), str(vocab_file))]
            ) from None
    tools = tuple(sorted((t.tool for t in result.tools), key=lambda t: t.name))
    return CatalogSnapshot(
        tools=tools,
        generation=generation,
        loaded_at=datetime.now(UTC),
        vocabulary=vocabulary,
        source="yaml",
        environments=folder_environments(result),
    )


class FolderSource:
    """A SnapshotSource over a catalog folder: YAML mode, hot-reloading when files change.

    Change detection stats every file at most once per `check_interval_s` (about 2 us a file),
    so a select does not pay for it; 0 checks on every call (tests). With `cache_dir`, the
    first load of a process reads the snapshot kept there by an earlier process for the same
    files (selection/folder_cache.py), and keeps what it reads from the folder there."""

    def __init__(
        self,
        path: Path | str,
        check_interval_s: float = 1.0,
        strict: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.strict = strict
        self._cache = (
            FolderSnapshotCache(cache_dir, self.path, strict=strict) if cache_dir else None
        )
        self.check_interval_s = check_interval_s
        self._snapshot: CatalogSnapshot | None = None
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._checked_at = 0.0
        self._generation = 0
        self.last_error: str | None = None

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for file in iter_definition_files([self.path]):
            try:
                st = os.stat(file)
            except FileNotFoundError:
                continue
            stamps.append((str(file), st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def snapshot(self) -> CatalogSnapshot:
        """The folder's snapshot, re-read when a file was added, removed or changed."""
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked_at < self.check_interval_s:
            return self._snapshot
        self._checked_at = now
        stamp = self._fingerprint()
        if self._snapshot is None or stamp != self._stamp:
            try:
                snapshot = self._load(stamp)
            except InvalidDefinition as exc:
                if self._snapshot is None:
                    raise
                # A half-saved edit must not take selection down: keep serving the last good.
                self.last_error = str(exc)
                log.warning(
                    "catalog folder %s is invalid, keeping generation %d: %s",
                    self.path,
                    self._generation,
                    exc.detail,
                )
                return self._snapshot
            self._generation += 1
            self._snapshot, self._stamp, self.last_error = snapshot, stamp, None
        return self._snapshot

    def _load(self, stamp: tuple[tuple[str, int, int], ...]) -> CatalogSnapshot:
        if self._cache is not None and self._snapshot is None:
            kept = self._cache.load(stamp)
            if kept is not None:
                return kept
        snapshot = load_folder_snapshot(self.path, self._generation + 1, self.strict)
        if self._cache is not None:
            self._cache.store(stamp, snapshot)
        return snapshot

    def peek_snapshot(self) -> CatalogSnapshot | None:
        """The current snapshot once one was loaded (re-read when a file changed), else None."""
        return self.snapshot() if self._snapshot is not None else None

    def invalidate(self) -> None:
        self._checked_at = 0.0
        self._stamp = ()

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.snapshot()


@dataclass(frozen=True, slots=True)
class PatternRef:
    """One (tool, capability, pattern) triple of the typed view."""

    tool: Tool
    capability: Capability
    pattern: Pattern


@dataclass(frozen=True, slots=True)
class OptimizationProfilesConfig:
    """The typed view the pipeline reads (name kept from the seed): every tool, capability,
    pattern, profile and policy at one catalog generation. Immutable; share it freely."""

    snapshot: CatalogSnapshot
    tools: dict[str, Tool] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", dict(self.snapshot.by_name))

    @property
    def generation(self) -> int:
        return self.snapshot.generation

    @property
    def vocabulary(self) -> Vocabulary | None:
        return self.snapshot.vocabulary

    def patterns(self) -> Iterator[PatternRef]:
        for tool in self.snapshot.tools:
            for capability in tool.capabilities:
                for pattern in capability.patterns:
                    yield PatternRef(tool, capability, pattern)

    def pattern(self, tool: str, capability: str, pattern: str) -> PatternRef:
        """The named triple; raises KeyError naming what is missing."""
        found = self.tools[tool]
        cap = next((c for c in found.capabilities if c.name == capability), None)
        if cap is None:
            raise KeyError(f"tool {tool!r} has no capability {capability!r}")
        pat = next((p for p in cap.patterns if p.name == pattern), None)
        if pat is None:
            raise KeyError(f"capability {tool}.{capability} has no pattern {pattern!r}")
        return PatternRef(found, cap, pat)


SourceUsed = Literal["database", "yaml", "last_good", "none"]


@dataclass(frozen=True, slots=True)
class LoaderStatus:
    source: SourceUsed
    generation: int | None
    loaded_at: datetime | None
    fallback_reason: str | None = None


class ProfileLoader:
    """Loads the catalog database-first (through a SnapshotSource such as ToolCatalogService)
    or from a catalog folder (`use_database=False`).

    When the source raises StoreUnavailable the last good snapshot is used, else the folder at
    `config_path`, and `status.fallback_reason` says so. Opening a database from a bare
    `database_url` is not done here (that is `runtime.open_runtime`'s job): pass `source=`.
    """

    def __init__(
        self,
        use_database: bool = True,
        database_url: str | None = None,
        config_path: Path | str | None = None,
        source: SnapshotSource | None = None,
    ) -> None:
        self.use_database = use_database
        self.database_url = database_url
        self.config_path = Path(config_path) if config_path is not None else None
        self._source = source
        self._folder = FolderSource(self.config_path) if self.config_path is not None else None
        self._last_good: CatalogSnapshot | None = None
        self._config: OptimizationProfilesConfig | None = None
        self.status = LoaderStatus("none", None, None)

    def invalidate_cache(self) -> None:
        """Forget the cached view: the next load asks the source (or re-reads the folder)."""
        self._config = None
        if self._folder is not None:
            self._folder.invalidate()
        invalidate = getattr(self._source, "invalidate", None)
        if callable(invalidate):
            invalidate()

    def peek_reader(self) -> Callable[[], CatalogSnapshot | None] | None:
        """The source's cheap synchronous read of its current snapshot (`peek_snapshot`: no
        I/O, None when it must be loaded), for callers that ask on every request; None when
        the source has none. When it answers, it answers as `snapshot()` would."""
        source = self._source if self.use_database else self._folder
        peek = getattr(source, "peek_snapshot", None)
        return peek if callable(peek) else None

    async def asnapshot(self) -> CatalogSnapshot:
        """The current snapshot; see the class docstring for the fallback order."""
        if not self.use_database:
            return self._from_folder(None)
        if self._source is None:
            reason = (
                "no snapshot source was given; opening a database from database_url inside "
                "ProfileLoader is not supported, pass source=runtime.catalog"
            )
            if self._folder is None:
                raise NotImplementedError(reason)
            return self._from_folder(reason)
        try:
            snapshot = await self._source.get_all_tools_with_structure()
        except StoreUnavailable as exc:
            return self._fall_back(f"database unavailable: {exc.detail}")
        self._last_good = snapshot
        self._set_status(snapshot, _source_kind(snapshot), None)
        return snapshot

    def snapshot(self) -> CatalogSnapshot:
        """Sync form of asnapshot. A source with a sync `snapshot()` (FolderSource) is called
        directly; otherwise the coroutine runs in a fresh event loop, which a pooled database
        client bound to another loop cannot serve: from async code use `await asnapshot()`."""
        if not self.use_database:
            return self._from_folder(None)
        sync = getattr(self._source, "snapshot", None)
        if self.use_database and callable(sync):
            try:
                snapshot = sync()
            except StoreUnavailable as exc:
                return self._fall_back(f"database unavailable: {exc.detail}")
            if not isinstance(snapshot, CatalogSnapshot):
                raise TypeError(f"{type(self._source).__name__}.snapshot() gave {snapshot!r}")
            self._last_good = snapshot
            self._set_status(snapshot, _source_kind(snapshot), None)
            return snapshot
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.asnapshot())
        raise RuntimeError(
            "ProfileLoader.snapshot() called inside an event loop; await asnapshot()"
        )

    async def aload(self, force_reload: bool = False) -> OptimizationProfilesConfig:
        if force_reload:
            self.invalidate_cache()
        return self._view(await self.asnapshot())

    def load(self, force_reload: bool = False) -> OptimizationProfilesConfig:
        if force_reload:
            self.invalidate_cache()
        return self._view(self.snapshot())

    def _view(self, snapshot: CatalogSnapshot) -> OptimizationProfilesConfig:
        if self._config is None or self._config.snapshot is not snapshot:
            self._config = OptimizationProfilesConfig(snapshot)
        return self._config

    def _from_folder(self, reason: str | None) -> CatalogSnapshot:
        if self._folder is None:
            raise CatalogError("YAML mode needs config_path (a catalog folder)")
        snapshot = self._folder.snapshot()
        self._set_status(snapshot, "yaml", reason)
        return snapshot

    def _fall_back(self, reason: str) -> CatalogSnapshot:
        if self._last_good is not None:
            log.warning("selection uses the last good catalog snapshot: %s", reason)
            self._set_status(self._last_good, "last_good", reason)
            return self._last_good
        if self._folder is not None:
            log.warning("selection falls back to the catalog folder: %s", reason)
            return self._from_folder(reason)
        raise StoreUnavailable(f"{reason}; no earlier snapshot and no catalog folder to use")

    def _set_status(
        self, snapshot: CatalogSnapshot, source: SourceUsed, reason: str | None
    ) -> None:
        self.status = LoaderStatus(source, snapshot.generation, snapshot.loaded_at, reason)


def _source_kind(snapshot: CatalogSnapshot) -> SourceUsed:
    return "yaml" if snapshot.source == "yaml" else "database"
