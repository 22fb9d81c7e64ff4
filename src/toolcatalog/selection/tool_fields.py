"""Each tool's semantic scores from the cosines of all of a catalog's texts, the work that does
not change between requests done once per index: which groups are names, whose they are, and
each tool's other groups side by side (semantic.SemanticIndex scans every text per request).

The same bits as semantic._fields, which still scores chosen tools (exact_scores): a maximum
is exact in any order, and each tool's sum adds its groups in their order from 0.0, as
np.bincount does (a name's 0.0 there adds nothing). Per request, 6,608 terse tools (19,824
texts): 0.97 -> 0.2 ms of CPU (load ~8; tests/selection/test_tool_fields.py holds the bits)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Vector = npt.NDArray[np.float32]
# GroupMaxima gathers the first this many texts of each group side by side.
GATHER_WIDTH = 8


class ToolFields:
    """Built from a SemanticIndex's layout: `starts`, the first text of each (tool, kind)
    group (texts sorted by tool, then kind); `owner`, each group's tool; `named`, whether a
    group is a name; `kinds`, how many groups but its name and clauses each tool has (never
    0); `texts`, how many texts there are; `clause`, whether a group is the clauses of its
    tool's description (its first group). Read only after construction: shared by concurrent
    selects."""

    def __init__(
        self,
        starts: Ints,
        owner: Ints,
        named: npt.NDArray[np.bool_],
        kinds: Ints,
        texts: int,
        name_weight: float,
        clause: npt.NDArray[np.bool_] | None = None,
        clause_weight: float = 0.0,
    ) -> None:
        self.starts, self.texts = starts, texts
        self._single = len(starts) == texts  # one text a group: no per-group maximum to take
        # Made on first use: an index whose texts repeat reads its rows through its own
        # (text_vectors.TextVectors.group_maxima).
        self._maxima: GroupMaxima | None = None
        self._kinds = kinds
        self._name_weight = name_weight
        self._named_at: Ints = np.flatnonzero(named)
        self._name_owner: Ints = owner[self._named_at]
        self._has_name = np.zeros(len(kinds), dtype=bool)
        self._has_name[self._name_owner] = True
        # A tool's clause group mixes into its description group, its first (semantic._fields).
        clause = np.zeros(len(owner), dtype=bool) if clause is None else clause
        self._clause_at: Ints = np.flatnonzero(clause)
        firsts = np.searchsorted(owner, np.arange(len(kinds)))
        self._described: Ints = firsts[owner[self._clause_at]]
        self._clause_weight = clause_weight
        # (width, tools): row j holds each tool's j-th group but its name and clauses, in
        # group order; a tool with fewer holds len(owner), the position of the padding value.
        others = np.flatnonzero(~(named | clause))
        mine = owner[others]
        counts = np.bincount(mine, minlength=len(kinds))
        width = int(counts.max(initial=0))
        rank = np.arange(len(others)) - np.repeat(np.cumsum(counts) - counts, counts)
        self._columns = np.full((width, len(kinds)), len(owner), dtype=np.intp)
        self._columns[rank, mine] = others

    def __call__(self, sims: Vector) -> tuple[Floats, Floats]:
        """`sims`: every text's cosine, in text order. Per tool: the mean over its groups
        but its name and clauses (each group's best cosine; the description's mixed with its
        clauses' by `clause_weight`), mixed with the name's (`name_weight`); and the best
        cosine of any text but its name and clauses."""
        if self._single:
            return self.of_groups(sims)
        maxima = self._maxima
        if maxima is None:
            maxima = self._maxima = GroupMaxima(self.starts, self.texts)  # a benign race
        return self.of_groups(maxima(sims))

    def of_groups(self, best_in_kind: Vector) -> tuple[Floats, Floats]:
        """`__call__` from each group's best cosine (GroupMaxima of the texts' cosines)."""
        padded = np.append(best_in_kind.astype(np.float64), 0.0)
        values = padded
        if len(self._clause_at):
            values = padded.copy()
            whole = values[self._described]
            weight = self._clause_weight
            values[self._described] = (1.0 - weight) * whole + weight * np.maximum(
                whole, values[self._clause_at]
            )
        groups = values[self._columns]
        fields = np.zeros(len(self._kinds))
        for row in groups:
            fields += row
        mean: Floats = fields / self._kinds
        if len(self._named_at):
            name = np.zeros(len(self._kinds))
            name[self._name_owner] = best_in_kind[self._named_at]
            weight = self._name_weight
            mean = np.where(self._has_name, (1.0 - weight) * mean + weight * name, mean)
        padded[-1] = -np.inf
        best: Floats = np.full(len(self._kinds), -np.inf)
        for row in padded[self._columns]:
            np.maximum(best, row, out=best)
        return mean, best


class GroupMaxima:
    """`np.maximum.reduceat(sims[rows], starts)` for fixed groups (`starts`: the first of
    each group's texts, `texts`: how many there are; `rows`: where each text's cosine is in
    `sims`, None for text order), computed as a few whole-array steps: each group's first
    text, then its second, ... up to its GATHER_WIDTH-th, the texts of longer groups beyond
    that by reduceat. A maximum is exact in any order: the same bits. reduceat pays per
    group, and most groups hold one to a few texts: 10,000 generated tools (72,077 texts in
    30,000 groups) 0.30 -> 0.11 ms a request, 100,000 tools 2.86 -> 1.12 ms; reading the rows
    through `rows` also spares the gather of every text's cosine when texts repeat."""

    def __init__(self, starts: Ints, texts: int, rows: Ints | None = None) -> None:
        sizes = np.diff(np.append(starts, texts))
        first = starts.astype(np.intp)
        where = (lambda at: at) if rows is None else (lambda at: rows[at])
        self._first: Ints = where(first)
        # Row j: the groups holding a (j+1)-th text and where that text's cosine is.
        self._rows: list[tuple[Ints, Ints]] = []
        for j in range(1, GATHER_WIDTH):
            at = np.flatnonzero(sizes > j)
            if not len(at):
                break
            self._rows.append((at, where(first[at] + j)))
        # The longer groups' remaining texts, one group after another, and where each
        # group's run starts among them.
        self._long: Ints = np.flatnonzero(sizes > GATHER_WIDTH)
        rest = sizes[self._long] - GATHER_WIDTH
        run_starts = np.cumsum(rest) - rest
        texts_of = np.repeat(first[self._long] + GATHER_WIDTH - run_starts, rest)
        self._rest: Ints = where(texts_of + np.arange(int(rest.sum()), dtype=np.intp))
        self._run_starts: Ints = run_starts

    def __call__(self, sims: Vector) -> Vector:
        best: Vector = sims[self._first]
        for at, text in self._rows:
            best[at] = np.maximum(best[at], sims[text])
        if len(self._long):
            rest = np.maximum.reduceat(sims[self._rest], self._run_starts)
            best[self._long] = np.maximum(best[self._long], rest)
        return best
