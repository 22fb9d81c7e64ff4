"""Following other replicas: their change notices applied to the state, and the change log
read every CATCH_UP_INTERVAL_S for the changes no notice brought (their writer died between
its commit and its notice)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from toolcatalog import metrics
from toolcatalog.catalog.changes import ChangeNotice
from toolcatalog.store import changes as change_store
from toolcatalog.store.changes import Position

if TYPE_CHECKING:
    from toolcatalog.catalog.state import CatalogState

log = logging.getLogger(__name__)

# How often a listening process looks in the change log for changes no notice brought (their
# writer died between its commit and its notice): one small query, answered by the index on
# the log's last ~1,000 rows.
CATCH_UP_INTERVAL_S = 1.0


class ReplicaFollower:
    """What a state knows of other replicas' changes: the position every change is applied
    at (set by whole reads, moved on by `catch_up`), and the changes whose notices came since,
    by their ids in the log."""

    def __init__(self, state: CatalogState) -> None:
        self.state = state
        self.followed: Position | None = None
        self._noticed: set[int] = set()
        self._listeners: list[Callable[[ChangeNotice], None]] = []
        self.task: asyncio.Task[None] | None = None

    def apply_change(self, notice: ChangeNotice) -> None:
        """A change notice from the listener: another replica's write is applied; ours,
        echoed back, was applied right after its commit."""
        if notice.origin != self.state.origin:
            if notice.change is not None:
                self._noticed.add(notice.change)
            metrics.NOTIFY_MESSAGES.labels("all" if notice.everything else "tools").inc()
            self.state.forget(notice.names, everything=notice.everything)
        for listener in list(self._listeners):
            listener(notice)

    def add_change_listener(self, callback: Callable[[ChangeNotice], None]) -> None:
        self._listeners.append(callback)

    def start(self) -> None:
        """Look in the change log every CATCH_UP_INTERVAL_S while a listener is connected
        (until the task is cancelled)."""
        self.task = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_INTERVAL_S)
            if not self.state.listening():
                continue  # a reconnect invalidates everything anyway
            try:
                await self.catch_up()
            except Exception as exc:  # the database away: its recovery invalidates it all
                log.info("change log not read", extra={"error": f"{exc.__class__.__name__}"})

    async def catch_up(self) -> list[int]:
        """Apply the committed changes of other replicas that no notice brought (their writer
        died between its commit and its notice, or could not send it): those the change log
        holds past the position every change is applied to. The generation counts exactly
        the changes a snapshot sees, so it also tells when some were folded out of the log
        before this looked: then everything is read again. Returns the ids of the changes
        applied (for tests and the log)."""
        followed = self.followed
        if followed is None or not self.state.is_whole():
            return []
        noticed = set(self._noticed)  # their changes are visible to the snapshot below
        async with self.state.db.connection("catch_up") as conn:
            position, changes = await change_store.fetch_changes_after(conn, followed)
        if self.followed is not followed:
            return []  # a whole read moved it meanwhile
        # A notice that came while the log was read was applied when it came: not missed.
        # (Counting only those heard before, a change committed just before the read and
        # announced during it was forgotten again, after the reader had re-read it.)
        heard = noticed | self._noticed
        self.followed = position
        unseen = [c for c in changes if not followed.sees(c.xid)]
        self._noticed -= noticed | {c.id for c in unseen}
        if len(unseen) != position.generation - followed.generation:
            log.warning("changes folded out of the change log unread; reading everything")
            metrics.NOTIFY_MESSAGES.labels("missed").inc()
            self.state.forget([], everything=True)
            return [c.id for c in unseen]
        missed = [c for c in unseen if c.origin != self.state.origin and c.id not in heard]
        if missed:
            log.warning(
                "changes without a notice found in the change log",
                extra={"changes": [c.id for c in missed]},
            )
            metrics.NOTIFY_MESSAGES.labels("missed").inc(len(missed))
            names = sorted({n for c in missed for n in c.names})
            self.state.forget(names, everything=any(c.everything for c in missed))
        return [c.id for c in missed]
