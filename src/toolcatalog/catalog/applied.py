"""What was applied to the current version while a whole read was in flight: our own
committed writes and tools re-read after notices, so that the whole read, when it ends, keeps
what its snapshot did not see (CatalogState's whole read)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from toolcatalog.store.changes import Position


@dataclass(frozen=True, slots=True)
class Applied:
    """A change applied to the current version: our own committed write (`xid`, its
    transaction), or tools re-read in a snapshot (`generation`; `whole`: a whole read's)."""

    names: frozenset[str]
    xid: int | None
    generation: int | None
    whole: bool = False

    def seen_by(self, position: Position) -> bool:
        """Whether a read at `position` saw this change (or something newer for its tools).
        Generations of snapshots count exactly the changes visible in them, and a later
        snapshot sees every commit an earlier one saw: an equal or lower one saw no more.
        A write's own generation is only a lower bound: its transaction is compared."""
        if self.xid is not None:
            return position.sees(self.xid)
        assert self.generation is not None
        return self.generation <= position.generation


def newer_than(position: Position, applied: Iterable[Applied]) -> set[str] | None:
    """The tools of the current version newer than a whole read at `position` (what was
    applied to it while the read was in flight and the read's snapshot did not see), or None
    when a later whole read replaced the version: then the read is dropped whole."""
    newer: set[str] = set()
    for change in applied:
        if change.seen_by(position):
            continue
        if change.whole:
            return None
        newer |= change.names
    return newer
