"""The bounds every number and free-form JSON value of a definition must respect.

A value outside them is refused at validation, whatever door it came through (HTTP body, merge
patch, YAML file, seed conversion), because downstream cannot hold it: JSON and PostgreSQL's
jsonb have no NaN or Infinity (orjson writes them as null, and the stored tool then no longer
validates), orjson writes integers only within 64 bits and nests only 254 levels deep, and a
finite but astronomical estimate overflows the selector's arithmetic.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

# An estimate or bound above this is a slip, not a measurement: 1e12 ms is 31 years, 1e12
# cost units a trillion API calls. The largest in the starter catalog is 600,000.
MAX_NUMBER = 1e12
# Free-form JSON (metadata, input and output schemas) nests at most this deep. orjson refuses
# to write more than 254 levels, and real schemas stay under ten.
MAX_JSON_DEPTH = 32
# A whole definition or merge patch: free-form JSON sits at most 6 levels down
# (capabilities[i].patterns[j].inputs).
MAX_DOCUMENT_DEPTH = MAX_JSON_DEPTH + 8
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

FINITE_HINT = f"numbers must be finite and at most {MAX_NUMBER:g} in size"


def shown(value: object) -> str:
    """A short text of `value`; an integer too long to print whole (Python refuses to turn
    one of over 4,300 digits into text) is described by its size."""
    if isinstance(value, int) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    return reprlib.repr(value)


def number_problem(value: object) -> str | None:
    """Why `value` (an int or float, not bool) is not an acceptable number, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number; {FINITE_HINT}"
    if isinstance(value, int | float) and abs(value) > MAX_NUMBER:
        return f"{shown(value)} is too large; {FINITE_HINT}"
    return None


class JsonLimitError(ValueError):
    """A free-form value beyond the bounds; `path` is where inside it, `problem` what."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"at {path}: {problem}" if path else problem)


def check_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH, numbers: bool = True) -> Any:
    """A validator for free-form JSON: refuses nesting deeper than `max_depth` and, with
    `numbers`, non-finite floats and integers beyond 64 bits; raises JsonLimitError naming
    the path inside the value. Iterative, so that no depth of input can exhaust the
    interpreter's recursion limit (the recursive walks after it rely on that)."""
    if not _within_limits(value, max_depth, numbers):  # the common case: no path built
        _raise_first_problem(value, max_depth, numbers)
    return value


def _raise_first_problem(value: Any, max_depth: int, numbers: bool) -> None:
    """Raise JsonLimitError for the first problem of `value` met by a walk that names paths."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise JsonLimitError(
                    path.lstrip("."), f"nested more than {max_depth} levels deep; flatten it"
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, sub in pairs:
                step = f"[{key}]" if isinstance(item, list) else f".{key}"
                stack.append((sub, path + step, depth + 1))
        elif not numbers:
            continue
        elif isinstance(item, float) and not math.isfinite(item):
            problem = f"{item} is not a finite number; JSON numbers are finite"
            raise JsonLimitError(path.lstrip("."), problem)
        elif isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            problem = f"{shown(item)} does not fit in 64 bits; write it as a string"
            raise JsonLimitError(path.lstrip("."), problem)


def _within_limits(value: Any, max_depth: int, numbers: bool) -> bool:
    """Whether check_json accepts `value`: the same test without the paths it names, several
    times faster (an import of 100,000 tools checks 1.2 million small schemas). On False,
    check_json walks again in its own order, so which problem it reports does not change."""
    if not isinstance(value, dict | list):
        return not numbers or _number_fits(value)
    stack: list[tuple[dict[Any, Any] | list[Any], int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            return False
        for sub in item.values() if isinstance(item, dict) else item:
            if isinstance(sub, dict | list):
                stack.append((sub, depth + 1))
            elif numbers and not _number_fits(sub):
                return False
    return True


def _number_fits(item: Any) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return not isinstance(item, int) or INT64_MIN <= item <= INT64_MAX
