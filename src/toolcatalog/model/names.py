"""Closest names, for "did you mean" hints on an unknown tool, capability or input name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib costs ~5 us a pair: past this many known names only those sharing the first letter
# are compared, so a hostile stream of unknown names against 10,000 tools stays cheap.
_COMPARED_MAX = 2000


def closest(name: str, known: Iterable[str], count: int = 3) -> list[str]:
    """Up to `count` known names most like `name` (difflib ratio >= 0.6), best first."""
    names = list(known)
    if len(names) > _COMPARED_MAX:
        names = [n for n in names if n[:1] == name[:1]][:_COMPARED_MAX]
    return difflib.get_close_matches(name, names, n=count, cutoff=0.6)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean a, b?)' naming the closest known names, or '' when none is close."""
    near = closest(name, known)
    return f" (did you mean {', '.join(near)}?)" if near else ""
