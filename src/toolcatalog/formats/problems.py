"""Turn pydantic validation errors into Problems with JSON paths and plain messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from toolcatalog.errors import Problem
from toolcatalog.model.limits import MAX_DOCUMENT_DEPTH, JsonLimitError, check_json

Loc = tuple[int | str, ...]


def json_path(loc: Sequence[int | str]) -> str:
    """('capabilities', 2, 'patterns', 0, 'name') -> 'capabilities[2].patterns[0].name'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    simple: dict[str, Callable[[], str]] = {
        "missing": lambda: "is required",
        "extra_forbidden": lambda: "is not a known field (check its spelling and indentation)",
        "less_than_equal": lambda: f"must be <= {ctx.get('le')}",
        "greater_than_equal": lambda: f"must be >= {ctx.get('ge')}",
        "less_than": lambda: f"must be < {ctx.get('lt')}",
        "greater_than": lambda: f"must be > {ctx.get('gt')}",
        "string_pattern_mismatch": lambda: f"must match {ctx.get('pattern')}",
        "string_too_long": lambda: f"is too long (at most {ctx.get('max_length')} characters)",
        "string_too_short": lambda: "must not be empty",
        "too_short": lambda: f"needs at least {ctx.get('min_length')} item(s)",
    }
    if kind in simple:
        return simple[kind]()
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _trim_loc(loc: Loc) -> Loc:
    # Union members add their type name to the location ('float', 'str'); people want the field.
    return tuple(
        p
        for p in loc
        if p not in ("float", "str", "int", "function-after[check_estimate(), union[float,str]]")
    )


def inside_free_json(err: Any, path: str, message: str) -> tuple[str, str]:
    """The path and message of a pydantic error, pointed inside free-form JSON (metadata,
    inputs, outputs) when the problem lies there: `metadata.limits[1]`, not `metadata`."""
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, JsonLimitError):
        return _join(path, inner.path), inner.problem
    return path, message


def _join(path: str, inner: str) -> str:
    if not inner:
        return path
    return path + inner if inner.startswith("[") or not path else f"{path}.{inner}"


def nesting_problems(data: Any, loc: Loc = ()) -> list[Problem]:
    """A document (definition or merge patch) nested deeper than any valid one: refused up
    front, before the recursive walks (NUL check, merge patch, pydantic, orjson) that the
    depth would take past the interpreter's recursion limit or orjson's 254 levels."""
    try:
        check_json(data, max_depth=MAX_DOCUMENT_DEPTH, numbers=False)
    except JsonLimitError as exc:
        return [Problem(_join(json_path(loc), exc.path), exc.problem)]
    return []


def nul_problems(data: Any, loc: Loc = ()) -> list[Problem]:
    """NUL characters anywhere in a document: PostgreSQL text cannot store them, so they are
    refused up front with their path rather than as a database error."""
    found: list[Problem] = []
    if isinstance(data, str):
        if "\x00" in data:
            found.append(Problem(json_path(loc), "contains a NUL character (\\x00); remove it"))
    elif isinstance(data, dict):
        for key, value in data.items():
            found += nul_problems(key, loc) + nul_problems(value, (*loc, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += nul_problems(value, (*loc, i))
    return found


def problems_from_validation(
    exc: ValidationError,
    *,
    file: str | None = None,
    prefix: Loc = (),
    line_of: Callable[[Loc], int | None] | None = None,
) -> list[Problem]:
    """Every error of `exc` as a Problem; `line_of` maps a location to a source line."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _trim_loc(tuple(err["loc"]))
        path = json_path(prefix + loc)
        message = _message(err)
        path, message = inside_free_json(err, path, message)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        line = line_of(prefix + loc) if line_of else None
        problems.append(Problem(path=path, message=message, file=file, line=line))
    return problems
