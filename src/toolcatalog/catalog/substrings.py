"""Each tool's text of one field lowercased and joined into one string, per catalog version, so
that a search for a part of a text (the seed's search, and its list's `name=`) is a C scan of
that string, not a walk of every tool in Python.

The seed door walked every tool once per catalog version and distinct value asked (answers
were kept per value): a stream of distinct values, hostile or not, was a walk of the whole
catalog per request on the event loop (~70 ms of CPU at 100,000 tools for two fields; the
scan of a column is ~2-4 ms, docs/performance.md "Session 19 (broad19)")."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable

from toolcatalog.model.tool import Tool

__all__ = ["COLUMNS", "TextColumn"]

# Between two tools' texts: PostgreSQL's text cannot hold it, so no stored text does, and a
# needle holding it matches no tool (one spanning two tools' texts would otherwise).
_SEPARATOR = "\x00"

# The texts a part may be looked for in, by column name.
COLUMNS: dict[str, Callable[[Tool], str]] = {
    "name": lambda tool: tool.name,
    "display_name": lambda tool: tool.display_name or "",
    "tool_name": lambda tool: f"{tool.name} {tool.display_name or ''}",
    "description": lambda tool: tool.description,
    "category": lambda tool: tool.category,
    "platform": lambda tool: tool.platform.value,
}


class TextColumn:
    """One column's lowercased text of each tool of a version (in its name order), joined."""

    __slots__ = ("_starts", "_text")

    def __init__(self, texts: Iterable[str]) -> None:
        parts = [text.lower() for text in texts]  # each apart: lower() may change a length
        self._text = _SEPARATOR.join(parts)
        starts = array("q", [0])
        at = 0
        for part in parts:
            at += len(part) + 1
            starts.append(at)
        self._starts = starts  # tool i's text is _text[starts[i] : starts[i + 1] - 1]

    @classmethod
    def of(cls, column: str, tools: Iterable[Tool]) -> TextColumn:
        return cls(map(COLUMNS[column], tools))

    def __len__(self) -> int:
        return len(self._starts) - 1

    def containing(self, needle: str) -> list[int]:
        """The indexes (ascending) of the tools whose text holds `needle` (lowercase): one
        `str.find` a matching tool, then on from the next tool's start."""
        if not needle:
            return list(range(len(self)))
        if _SEPARATOR in needle:
            return []
        found: list[int] = []
        find, starts = self._text.find, self._starts
        at = find(needle)
        while at >= 0:
            tool = bisect_right(starts, at) - 1
            found.append(tool)
            at = find(needle, starts[tool + 1])
        return found
