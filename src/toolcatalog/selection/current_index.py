"""The selector's current index: the enumerator requests answer from, built over the catalog's
snapshot, and the semantic index of its tools. A new catalog generation's index is built beside
the readers (derived from the current one: the work is the changed tools'), who answer from the
previous one until it is ready; builds under a stream of writes are coalesced and paced.

CurrentIndex is the part of Selector (selector.py) that does it; the selector's fields it
reads and writes are declared here for the type checker."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from toolcatalog.catalog.heap import frozen_heap
from toolcatalog.collector import collector_paused
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.loader import ProfileLoader
from toolcatalog.selection.retrieval import CatalogIndex, snapshot_key
from toolcatalog.selection.rulings import Rulings, rule_beside
from toolcatalog.selection.semantic import Progress, SemanticIndex
from toolcatalog.selection.semantic_engine import SemanticEngine

SEMANTIC_POLL_S = 0.05
# Under a stream of writes, background index builds start at most once per
# REBUILD_INTERVAL_S, and at least REBUILD_PAUSE_S after the previous one ended; the writes
# that came meanwhile are coalesced into the next build (latest wins), and selection answers
# from the previous index until it is in: at most about a second behind the catalog, as
# another replica's write is. A single write after a quiet spell is built at once. Each build
# embeds the texts changed since the last (a round trip to the shared vectors and back, two
# hand-overs to the loop) and derives the index: at a fixed 0.25 s pause the default mix of
# issue #14 (55 patches a second) made ~3 builds a second, ~20 % of a core beside the loop.
# At 10,000 tools a build is longer than the interval and the pause alone spaces them.
REBUILD_INTERVAL_S = 0.75
REBUILD_PAUSE_S = 0.25
log = logging.getLogger(__name__)


class CurrentIndex:
    """Keeping the selector's index current (a mixin of Selector)."""

    loader: ProfileLoader
    resumed: Callable[[], object | None]
    _peek: Callable[[], CatalogSnapshot | None] | None
    _enumerator: CandidateEnumerator | None
    _semantic: SemanticIndex | None
    _engine: SemanticEngine | None
    _unavailable: str | None
    _wanted: CatalogSnapshot | None
    _rebuilding: asyncio.Task[None] | None
    _next_build_at: float
    _lock: threading.Lock
    _closing: threading.Event

    @property
    def semantic_status(self) -> str:
        """off | unavailable: why | waiting (no index built yet) | loading (embedding the
        current index's tools) | ready | ready; embedding the names and description clauses:
        N of M | ready; names and description clauses not embedded: why | failed: why.
        Selection is hybrid once ready; the names' and clauses' vectors join it when in."""
        if self._unavailable is not None:
            return f"unavailable: {self._unavailable}"
        if self._engine is None:
            return "off"
        semantic = self._semantic
        if semantic is None:
            return "waiting"
        if semantic.ready.is_set():
            if semantic.complete.is_set():
                return "ready"
            if semantic.error is not None:
                return f"ready; names and description clauses not embedded: {semantic.error}"
            done, of = semantic.progress[2:]
            return f"ready; embedding the names and description clauses: {done} of {of}"
        if semantic.error is not None:
            return f"failed: {semantic.error}"
        return "loading"

    @property
    def semantic_progress(self) -> Progress | None:
        """(texts embedded, texts selection waits for, names and description clauses
        embedded, those that come after) of the current index, None before one exists."""
        semantic = self._semantic
        return None if semantic is None else semantic.progress

    def enumerator_for(self, snapshot: CatalogSnapshot) -> CandidateEnumerator:
        """The enumerator over `snapshot`'s index, rebuilt only when the snapshot changed."""
        current = self._enumerator
        if current is not None and current.index.key == snapshot_key(snapshot):
            return current
        with self._lock:
            current = self._enumerator
            if current is None or current.index.key != snapshot_key(snapshot):
                resumed = self.resumed() if current is None else None
                with frozen_heap():
                    if isinstance(resumed, CandidateEnumerator):
                        resumed.index.adopt(snapshot)
                        index = CatalogIndex(snapshot, resumed.index)
                        current = CandidateEnumerator(index, resumed)
                    else:
                        current = CandidateEnumerator(CatalogIndex(snapshot))
                    self._enumerator = current
                    if self._engine is not None:
                        if self._semantic is not None:  # its embedding is this one's now
                            self._semantic.stop.set()
                        self._semantic = self._engine.index(current.index.tools)
                self._rule_ahead(current)
            return current

    @property
    def current(self) -> CandidateEnumerator | None:
        """The enumerator requests answer from now (None before the first build)."""
        return self._enumerator

    def wait_for_semantic(self, timeout: float | None = None, *, complete: bool = True) -> bool:
        """Build the current index if needed and wait until its embeddings are all in (with
        `complete` False: until selection is hybrid, the names and clauses still to come);
        False when semantic retrieval is off, unavailable, failed, or the wait timed out."""
        self.enumerator_for(self.loader.snapshot())
        semantic = self._semantic
        if semantic is None:
            return False
        return (semantic.done if complete else semantic.settled).wait(
            timeout
        ) and semantic.ready.is_set()

    async def await_semantic(self, *, complete: bool = True) -> bool:
        """Async form of wait_for_semantic: True once the current index's embeddings are
        all in (`complete` False: once selection is hybrid), False when semantic retrieval
        is off or failed. Bound it with asyncio.timeout (it polls, so cancelling leaves no
        thread behind)."""
        await self.aselect_index()
        semantic = self._semantic
        if semantic is None:
            return False
        # A threading.Event set by the embedding thread: asyncio.Event is not thread-safe.
        waited = semantic.done if complete else semantic.settled
        while not waited.is_set():  # noqa: ASYNC110
            await asyncio.sleep(SEMANTIC_POLL_S)
        return semantic.ready.is_set()

    async def aselect_index(self, *, fresh: bool = False) -> CandidateEnumerator:
        """The enumerator to answer from. The first one is built off the event loop and
        awaited; after that a new snapshot's index (55 ms of CPU for the starter catalog,
        seconds at 10,000 tools) is built beside the readers, who keep answering from the
        previous one until it is ready (`catalog_version` says which they used), the way
        another replica's write shows through this one a moment later. `fresh` waits for the
        current snapshot's index (read-your-writes, tests)."""
        snapshot = self._peek() if self._peek is not None else None
        if snapshot is None:
            snapshot = await self.loader.asnapshot()
        current = self._enumerator
        if current is not None and current.index.key == snapshot_key(snapshot):
            return current
        if current is None:
            return await asyncio.to_thread(self.enumerator_for, snapshot)
        self._wanted = snapshot
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.ensure_future(self._rebuild())
        if fresh:
            await asyncio.shield(self._rebuilding)
            return await self.aselect_index(fresh=True)
        return current

    async def _rebuild(self) -> None:
        """Build the wanted snapshot's index until the built one is the latest wanted: one
        build at a time, the writes that came meanwhile coalesced into the next. A pause
        between builds (rebuild_pause) bounds the share of the CPU (and of the GIL) they
        take from the readers under a stream of writes; it is taken before the next build,
        only when there is one to make, so the first write after a quiet spell is built at
        once and `aselect_index(fresh=True)` waits for no pause after the last build."""
        while True:
            wanted = self._wanted
            current = self._enumerator
            if wanted is None or (
                current is not None and current.index.key == snapshot_key(wanted)
            ):
                return
            wait = self._next_build_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # the writes of the pause are in `_wanted` now
            started = time.monotonic()
            try:
                await asyncio.to_thread(self._build_beside, wanted)
            except Exception:
                # The next select starts another build; meanwhile the previous index answers.
                log.exception("building the selection index failed; answering from the last one")
                return
            finally:
                ended = time.monotonic()
                self._next_build_at = ended + rebuild_pause(ended - started)

    def _build_beside(self, snapshot: CatalogSnapshot) -> None:
        """Build `snapshot`'s index, and its embeddings when the current ones are ready,
        then swap both in at once: selection stays hybrid across a write instead of turning
        lexical until the new embeddings are ready (names and description clauses still to
        come are embedded beside, SemanticEngine.filled_index). While the current embeddings are
        still being computed (start-up), the index is swapped in at once as before."""
        semantic, previous = self._semantic, self._enumerator
        if previous is None or (
            self._engine is not None and (semantic is None or not semantic.settled.is_set())
        ):
            self.enumerator_for(snapshot)
            return
        # Derived from the current index: the work is the changed tools' (see CatalogIndex).
        # Not frozen_heap: what a derived index allocates is the changed tools' texts and a
        # few tables of references (a handful of containers the collector walks in
        # microseconds; the arrays are not tracked), while that context's full
        # collection and count of the frozen set walk the whole heap, and a freeze per write
        # would also freeze each in-flight request's objects (those dying in a cycle leak
        # until a full collection).
        with collector_paused():
            enumerator = CandidateEnumerator(CatalogIndex(snapshot, previous.index), previous)
            filled = None
            if self._engine is not None:
                # The index's positions are the semantic index's when it was derived from
                # the index of the semantic index's tools: one identity pass over the
                # catalog a write, not two.
                index = enumerator.index
                derived = index.base is not None and index.base == previous.index.key
                same = derived and semantic is not None and semantic.tools is previous.index.tools
                positions = index.positions if same else None
                filled = self._engine.filled_index(index.tools, semantic, positions)
        with self._lock:
            self._enumerator, self._semantic = enumerator, filled
        self._rule_ahead(enumerator)

    def _rule_ahead(self, enumerator: CandidateEnumerator) -> None:
        """Rule the new index's tools under the default constraints beside the readers
        (rulings.rule_beside; a derived index kept the unchanged tools' rulings), until done,
        the index is replaced or the selector closes."""

        def current() -> Rulings | None:
            return enumerator.rulings if self._enumerator is enumerator else None

        rule_beside(len(enumerator.index.tools), current, self._closing)


def rebuild_pause(took_s: float) -> float:
    """Seconds to wait after a background build that took `took_s` before the next one:
    the next starts REBUILD_INTERVAL_S after this one started, and never sooner than
    REBUILD_PAUSE_S after it ended."""
    return max(REBUILD_PAUSE_S, REBUILD_INTERVAL_S - took_s)
