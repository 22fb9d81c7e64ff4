"""Re-reading the tools other replicas changed: their GET cache entries dropped at once, the
version brought up to date for them beside the readers (a notice naming "everything", or a
missed one, starts a whole read: whole_read.py).

Rereads is owned by CatalogState (state.py, `state.rereads`), beside its whole reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from toolcatalog.catalog.cache import AsyncLRUCache
from toolcatalog.catalog.stored import InvalidStoredTools
from toolcatalog.catalog.views import CachedTool
from toolcatalog.catalog.whole_read import HeldVersion, WholeReads, retrieve
from toolcatalog.config import Settings
from toolcatalog.store import changes as change_store
from toolcatalog.store import tools as tool_store
from toolcatalog.store.database import Database

log = logging.getLogger(__name__)

# Below this many records, validating and encoding on the loop costs less than a thread hop.
_INLINE_RECORDS = 20


class Rereads:
    """Re-reading changed tools into the version. `pause_s`: seconds between re-reads of the
    tools notices name (0: each at once). A selection process sets it: it reads only through
    the selector's paced index builds, and re-reading the default mix's ~40 patches a second
    one notice at a time cost it as much CPU as the worker that made them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        tools: AsyncLRUCache[CachedTool],
        invalid: InvalidStoredTools,
        whole: WholeReads,
        held: HeldVersion,
    ) -> None:
        self.db, self.settings, self.tools, self.invalid = db, settings, tools, invalid
        self.whole, self.held = whole, held
        self.pause_s = 0.0
        self._pending: set[str] = set()  # named by notices, not yet re-read
        # Being re-read after a notice: GET does not answer them from the version meanwhile.
        self._rereading: set[str] = set()
        self._refreshing: asyncio.Task[None] | None = None

    def behind_for(self, name: str) -> bool:
        """Whether a notice named `name` and the version does not hold its change yet."""
        return name in self._pending or name in self._rereading

    async def reread(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Bring the version up to date with the database for `names` (or everything), and
        drop their GET cache entries; returns once the new version is in place (an import
        waits for it, readers do not)."""
        self.forget_cached(names, everything=everything)
        if self.held.current_version is None:
            return  # filled on first read
        if everything:
            self.whole.invalidate()
            await self.whole.fill()
        else:
            await self._reread_names(set(names))

    async def _reread_names(self, names: set[str]) -> None:
        self._rereading |= names
        try:
            await self._reread_names_now(names)
        finally:
            self._rereading -= names

    async def _reread_names_now(self, names: set[str]) -> None:
        async with self.db.snapshot_read("refresh_catalog") as conn:
            generation = await change_store.fetch_generation(conn)
            records = list((await tool_store.fetch_tools(conn, sorted(names))).values())
        if len(records) > _INLINE_RECORDS:
            fresh = await asyncio.to_thread(self.whole.entries, records, whole=False)
        else:
            fresh = self.whole.entries(records, whole=False)
        current = self.held.current_version
        if current is None:
            return
        gone = [n for n in names if n not in fresh]
        for name in names:
            self.whole.stamps.pop(name, None)
        # A record read before one of our own writes committed must not undo it.
        fresh = {
            n: e
            for n, e in fresh.items()
            if (held := current.entries.get(n)) is None or held.revision <= e.revision
        }
        self.held.swap(current.changed(fresh, gone, generation, current.built_at))
        self.whole.note(names, generation=generation)

    def forget_cached(self, names: Sequence[str], *, everything: bool = False) -> None:
        """Drop the GET cache entries a change to `names` (or to everything) made stale."""
        if everything or len(names) > self.settings.cache_max_size // 2:
            self.tools.clear()
        else:
            for name in names:
                self.tools.invalidate(name)
                self.whole.stamps.pop(name, None)
            self.invalid.forget(names)  # re-checked when next read

    def forget(self, names: Sequence[str], *, everything: bool = False) -> None:
        """A change made elsewhere: GET entries dropped now, the version re-read beside the
        readers (they keep the previous one until it is ready)."""
        self.forget_cached(names, everything=everything)
        if self.held.current_version is None:
            return
        if everything or not names:
            self.whole.fall_behind()
            return
        self._pending.update(names)
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._drain())
            self._refreshing.add_done_callback(retrieve)

    async def _drain(self) -> None:
        while self._pending:
            names, self._pending = self._pending, set()
            try:
                await self._reread_names(names)
            except Exception:
                # Unread: the whole catalog is read again when it can be.
                log.warning("re-reading changed tools failed; reading the whole catalog")
                self.whole.start_fill()
                return
            if self.pause_s > 0:
                # The notices of the pause gather in `_pending`: one re-read for them all.
                await asyncio.sleep(self.pause_s)

    async def close(self) -> None:
        """Cancel the re-reads in flight."""
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            with contextlib.suppress(BaseException):
                await self._refreshing
