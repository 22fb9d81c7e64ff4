"""The patterns a selector's index ranks, as (tool position, tool, capability, pattern)
entries, made when asked for rather than held per pattern."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import overload

from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Capability, Tool
from toolcatalog.selection.arrays import IntArray


@dataclass(frozen=True, slots=True)
class PatternEntry:
    tool_index: int
    tool: Tool
    capability: Capability
    pattern: Pattern


class PatternEntries(Sequence[PatternEntry]):
    """An index's patterns in order (tool by tool, each tool's capabilities' patterns in
    turn), each `PatternEntry` made when asked for: an entry held per pattern cost ~0.5 KiB
    a generated tool (six patterns), ~50 MiB of a worker at 100,000 tools, while a request
    reads the patterns of the few tools it shortlists. Entries are equal, not identical,
    from one ask to the next."""

    __slots__ = ("_start", "_tool", "_tools")

    def __init__(self, tools: Sequence[Tool], pattern_tool: IntArray, start: IntArray) -> None:
        self._tools, self._tool, self._start = tools, pattern_tool, start

    def __len__(self) -> int:
        return len(self._tool)

    @overload
    def __getitem__(self, j: int) -> PatternEntry: ...
    @overload
    def __getitem__(self, j: slice) -> tuple[PatternEntry, ...]: ...
    def __getitem__(self, j: int | slice) -> PatternEntry | tuple[PatternEntry, ...]:
        if isinstance(j, slice):
            return tuple(self[k] for k in range(*j.indices(len(self))))
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(j)
        i = int(self._tool[j])
        tool, k = self._tools[i], j - int(self._start[i])
        for capability in tool.capabilities:
            if k < len(capability.patterns):
                return PatternEntry(i, tool, capability, capability.patterns[k])
            k -= len(capability.patterns)
        raise IndexError(j)  # the tool has fewer patterns than its index counted

    def __iter__(self) -> Iterator[PatternEntry]:
        for i in range(len(self._tools)):
            yield from self.of_tool(i)

    def patterns(self) -> list[Pattern]:
        """Every pattern, in order, without its entry: a fresh enumerator's passes over all
        of them (three passes making 600,000 entries each at 100,000 generated tools)."""
        return list(
            chain.from_iterable(
                capability.patterns for tool in self._tools for capability in tool.capabilities
            )
        )

    def of_tool(self, i: int) -> tuple[PatternEntry, ...]:
        """Tool `i`'s patterns, in order."""
        tool = self._tools[i]
        return tuple(
            PatternEntry(i, tool, capability, pattern)
            for capability in tool.capabilities
            for pattern in capability.patterns
        )
