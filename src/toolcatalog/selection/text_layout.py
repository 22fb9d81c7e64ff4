"""Which texts a snapshot's tools have, in (tool, kind) order (TextLayout), and the tables
that turn one cosine per text into each tool's scores (tool_fields.py); a write's layout is
spliced from the previous one (`TextLayout.spliced`): the unchanged tools' texts are copied by
runs, only the changed tools' are sorted (at 100,000 generated tools `of` sorts 721,117 texts
again: 0.6-0.9 s of a write)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from toolcatalog.selection.arrays import IntArray
from toolcatalog.selection.clauses import CLAUSE_KIND, CLAUSE_WEIGHT
from toolcatalog.selection.tool_fields import ToolFields

KINDS = ("description", "example", "capability", "name", "clause")
# The name alone of a tool without examples ("finance tool", "pg_dump (PostgreSQL logical
# backup)") is a field of its own: NAME_WEIGHT of its semantic score, the mean over its other
# kinds the rest. A name says what a tool is for in few words, which a one-sentence
# description's other words blur; it takes no part in the best single cosine (what the gate
# and the calibration read), since a short text can sit near a request by accident. Measured
# offline on three terse catalogs (fused ranking, top-1 / recall@5), weights 0 -> 0.15 ->
# 0.25: MetaTool 2,000 0.586 / 0.805 -> 0.590 / 0.807 -> 0.592 / 0.810; the starter catalog's
# names and descriptions (180 dev and held-out requests) 0.683 / 0.894 -> 0.700 / 0.894 ->
# 0.672 / 0.894; manual pages (43 shell requests) 0.442 / 0.744 -> 0.465 / 0.744 -> 0.512 /
# 0.767. 0.15 gains on all three. A tool with examples has request-like texts already: given
# to every tool of the starter catalog with its examples, the name field cost dev 0.833 ->
# 0.808 (a tool the request names won: "no docker", "NIC Link is Down" -> ethtool) while
# held-out went 0.867 -> 0.900.
NAME_KIND = 3
NAME_WEIGHT = 0.15


class TextLayout:
    """Every text of a snapshot's tools (`size` of them, in CatalogIndex order), sorted by
    (tool, kind) so each (tool, kind) group is one contiguous segment, and the tables that
    turn one cosine per text into each tool's scores."""

    def __init__(
        self,
        texts: list[str],
        kinds: IntArray,
        owners: IntArray,
        size: int,
        tool_start: IntArray | None = None,
    ) -> None:
        """`tool_start`: where each tool's texts start (and their count last), when the
        caller counted it (a splice does); else searched in `owners`."""
        self.size = size
        self.texts = texts
        self.kinds: IntArray = kinds
        self.owners: IntArray = owners
        slot = owners * len(KINDS) + kinds
        self.slots: IntArray = slot
        starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(slot) else slot
        group_slots = slot[starts] if len(slot) else slot
        group_tool = group_slots // len(KINDS)
        named = group_slots % len(KINDS) == NAME_KIND
        clause = group_slots % len(KINDS) == CLAUSE_KIND
        # Each tool's texts are texts[tool_start[i]:tool_start[i + 1]] (see exact_scores).
        if tool_start is None:
            tool_start = np.searchsorted(owners, np.arange(size + 1))
        self.tool_start: IntArray = tool_start
        # How many kinds of text but its name and clauses each tool has (at least its
        # description, so never 0).
        self.kinds_per_tool: IntArray = np.maximum(
            np.bincount(group_tool[~(named | clause)], minlength=size), 1
        )
        self.fields = ToolFields(
            starts,
            group_tool,
            named,
            self.kinds_per_tool,
            len(slot),
            NAME_WEIGHT,
            clause,
            CLAUSE_WEIGHT,
        )

    @classmethod
    def of(cls, per_tool: Sequence[Sequence[tuple[int, str]]]) -> TextLayout:
        """The layout of each tool's (kind, text) pairs (semantic.tool_texts)."""
        counts = np.fromiter(map(len, per_tool), dtype=np.int64, count=len(per_tool))
        owner_of = np.repeat(np.arange(len(per_tool), dtype=np.int64), counts)
        kinds, texts = (
            zip(*chain.from_iterable(per_tool), strict=True) if len(owner_of) else ((), ())
        )
        kind_of = np.fromiter(kinds, dtype=np.int64, count=len(owner_of))
        # Owners ascend already: a stable sort of (owner, kind) is lexsort's order.
        order = np.argsort(owner_of * len(KINDS) + kind_of, kind="stable")
        ordered = list(map(texts.__getitem__, order.tolist()))
        return cls(ordered, kind_of[order], owner_of[order], len(per_tool))

    @classmethod
    def spliced(
        cls,
        previous: TextLayout,
        moved: Sequence[int] | IntArray,
        per_tool: Sequence[Sequence[tuple[int, str]]],
    ) -> tuple[TextLayout, Splice | None]:
        """The layout `of(per_tool)` gives, from `previous`'s: `moved`, each tool's position
        there (-1: changed, its texts `per_tool`'s), as derivation.positions_in gives it.
        The unchanged tools' texts are copied by runs (the Splice says where from), the
        changed tools' sorted; None for the splice when it was sorted from nothing (the kept
        tools in another order, or too many runs)."""
        made = _spliced(previous, moved, per_tool)
        if made is None:
            return cls.of(per_tool), None
        return made

    def without(self, kind: int) -> TextLayout:
        """The same layout without the texts of `kind`: what `of` gives for the same tools'
        texts but those (the sort is stable)."""
        keep = self.kinds != kind
        at = np.flatnonzero(keep)
        texts = [self.texts[i] for i in at]
        return TextLayout(texts, self.kinds[keep], self.owners[keep], self.size)


# Past this many runs of unchanged tools (a large write) a layout is sorted from nothing.
SPLICE_MAX_RUNS = 1024


class Splice(NamedTuple):
    """Where a spliced layout's texts come from: `runs` of (start here, start in the previous
    layout, length) copied in order, and `fresh`, the positions of the changed tools'
    texts (every other position)."""

    runs: list[tuple[int, int, int]]
    fresh: IntArray


def _spliced(
    previous: TextLayout,
    moved: Sequence[int] | IntArray,
    per_tool: Sequence[Sequence[tuple[int, str]]],
) -> tuple[TextLayout, Splice] | None:
    """TextLayout.spliced; None when the kept tools changed order or too many runs."""
    at = np.asarray(moved, dtype=np.int64)
    kept = at >= 0
    if np.any(np.diff(at[kept]) <= 0):
        return None
    # A segment starts at each changed tool and at each kept tool that does not follow its
    # predecessor there; a kept segment runs to the next segment's start.
    follows = np.zeros(len(at), dtype=bool)
    follows[1:] = kept[1:] & kept[:-1] & (at[1:] == at[:-1] + 1)
    starts = np.flatnonzero(~follows)
    if len(starts) > 2 * SPLICE_MAX_RUNS:
        return None
    old_start = previous.tool_start
    counts = np.zeros(len(at), dtype=np.int64)
    counts[kept] = old_start[at[kept] + 1] - old_start[at[kept]]
    changed = np.flatnonzero(~kept)
    counts[changed] = [len(per_tool[i]) for i in changed.tolist()]
    tool_start = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum(counts, out=tool_start[1:])
    # Every kept tool where it was (a write that updated tools): the previous texts copied
    # at once and the changed tools' put in their places, instead of a list grown run by
    # run (at 100,000 tools ~720,000 texts: one copy, not a slice and an extend of each).
    in_place = len(at) == previous.size and bool((at[kept] == np.flatnonzero(kept)).all())
    texts: list[str] = previous.texts.copy() if in_place else []
    kinds: list[IntArray] = []
    owners: list[IntArray] = []
    runs: list[tuple[int, int, int]] = []
    fresh: list[IntArray] = []
    ends = [*starts[1:].tolist(), len(at)]
    for i, end in zip(starts.tolist(), ends, strict=True):
        here = int(tool_start[i])
        if kept[i]:
            lo, hi = int(old_start[at[i]]), int(old_start[at[end - 1] + 1])
            if not in_place:
                texts += previous.texts[lo:hi]
            kinds.append(previous.kinds[lo:hi])
            owners.append(previous.owners[lo:hi] + (i - int(at[i])))
            runs.append((here, lo, hi - lo))
            continue
        pairs = sorted(per_tool[i], key=itemgetter(0))  # stable: `of`'s order
        if in_place:  # the tools before it hold their texts here already
            texts[here : here + int(old_start[i + 1] - old_start[i])] = [t for _k, t in pairs]
        else:
            texts += [text for _kind, text in pairs]
        kinds.append(np.array([kind for kind, _text in pairs], dtype=np.int64))
        owners.append(np.full(len(pairs), i, dtype=np.int64))
        fresh.append(np.arange(here, here + len(pairs), dtype=np.int64))
    empty = np.zeros(0, dtype=np.int64)
    layout = TextLayout(
        texts,
        np.concatenate(kinds) if kinds else empty,
        np.concatenate(owners) if owners else empty,
        len(at),
        tool_start,
    )
    return layout, Splice(runs, np.concatenate(fresh) if fresh else empty)
