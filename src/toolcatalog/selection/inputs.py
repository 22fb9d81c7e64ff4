"""A request's `inputs` checked against one pattern's input schema (JSON Schema `type`,
`minimum`/`maximum` and their exclusive forms, `enum`, `required`): the values the pattern
accepts, and a line for each it does not. A refused value is not used (the pattern's default
stands), so a misspelt or negative input can never turn into a 0 ms, cost-0 estimate."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolcatalog.model.names import closest
from toolcatalog.model.pattern import Pattern

InputValue = float | int | bool | str
Inputs = Mapping[str, InputValue]


@dataclass(frozen=True, slots=True)
class CheckedInputs:
    """`accepted`: the request's values the pattern declares and its schema allows;
    `problems`: one line per refused value or missing required input."""

    accepted: dict[str, InputValue]
    problems: tuple[str, ...]


def _type_ok(kind: Any, value: InputValue) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    for k in kinds:
        if k == "boolean" and isinstance(value, bool):
            return True
        if k == "string" and isinstance(value, str):
            return True
        if isinstance(value, bool | str):
            continue
        if k == "number" and math.isfinite(value):
            return True
        if k == "integer" and math.isfinite(value) and float(value).is_integer():
            return True
    return kind is None


def _bound_problem(schema: Mapping[str, Any], value: float) -> str | None:
    for key, words in _BOUNDS:
        bound = schema.get(key)
        if not isinstance(bound, int | float) or isinstance(bound, bool):
            continue
        fails = {
            "minimum": value < bound,
            "exclusiveMinimum": value <= bound,
            "maximum": value > bound,
            "exclusiveMaximum": value >= bound,
        }[key]
        if fails:
            return f"{words} {bound:g}"
    return None


_BOUNDS = (
    ("minimum", "below the minimum"),
    ("exclusiveMinimum", "not above the exclusive minimum"),
    ("maximum", "above the maximum"),
    ("exclusiveMaximum", "not below the exclusive maximum"),
)


def value_problem(schema: Mapping[str, Any], value: InputValue) -> str | None:
    """Why `value` does not fit the property `schema`, or None when it does."""
    kind = schema.get("type")
    if not _type_ok(kind, value):
        return f"is not of type {kind}"
    if not isinstance(value, bool | str):
        bound = _bound_problem(schema, float(value))
        if bound:
            return bound
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return "is not one of " + ", ".join(repr(v) for v in enum[:8])
    return None


def check_inputs(pattern: Pattern, inputs: Inputs, label: str) -> CheckedInputs:
    """The request's inputs as `pattern` (called `label` in the lines) accepts them. Names it
    does not declare are left out silently: the request's inputs serve every candidate, and
    names no pattern declares are reported once per request (see unknown_input_names)."""
    props = pattern.inputs.get("properties", {})
    accepted: dict[str, InputValue] = {}
    problems: list[str] = []
    for name, value in inputs.items():
        schema = props.get(name)
        if schema is None:
            continue
        why = value_problem(schema, value)
        if why is None:
            accepted[name] = value
            continue
        default = schema.get("default")
        fallback = "its default is used" if default is not None else "it is left unset"
        problems.append(f"inputs.{name}: {value!r} {why} for {label}; {fallback}")
    required = pattern.inputs.get("required", [])
    for name in required if isinstance(required, list) else []:
        if name not in accepted and "default" not in props.get(name, {}):
            problems.append(f"inputs.{name}: required by {label} and not given")
    return CheckedInputs(accepted, tuple(problems))


# Suggestions compare a name with every known one (difflib, ~5 us a pair): a hostile request
# naming thousands of unknown names against a 10,000-tool catalog must not buy seconds of CPU.
MAX_SUGGESTED = 10


def unknown_input_names(inputs: Inputs, declared: frozenset[str]) -> list[str]:
    """One line per input name that no pattern of the catalog declares (the first
    MAX_SUGGESTED with the closest declared names)."""
    out = []
    for n, name in enumerate(sorted(set(inputs) - declared)):
        near = closest(name, declared) if n < MAX_SUGGESTED else []
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        out.append(f"inputs.{name}: no pattern in the catalog declares this input{hint}")
    return out


# Stage A entities that name an input's value, and the input names each fills (the first the
# pattern declares), as the starter catalog and most tool catalogs name them.
ENTITY_INPUTS: dict[str, tuple[str, ...]] = {
    "hostname": ("host", "hostname", "server", "computer", "target"),
    "file_path": ("path", "file_path", "file", "filename"),
    "port": ("port",),
}
ENTITY_MIN_CONFIDENCE = 0.5


def _entity_value(kind: str, value: str) -> InputValue:
    text = value.strip()
    return int(text) if kind == "port" and text.isdigit() else text


def run_inputs(
    pattern: Pattern, inputs: Inputs, entities: Iterable[tuple[str, str, float]] = ()
) -> dict[str, InputValue]:
    """The values `pattern` runs with: its schema's defaults, then Stage A's hostname,
    file_path and port entities (type, value, confidence) for inputs it declares, then the
    request's inputs its schema accepts (those win)."""
    props = pattern.inputs.get("properties", {})
    out: dict[str, InputValue] = {
        name: sub["default"]
        for name, sub in props.items()
        if isinstance(sub.get("default"), bool | int | float | str)
    }
    filled: set[str] = set()
    for kind, value, confidence in entities:
        if confidence < ENTITY_MIN_CONFIDENCE:
            continue
        for name in ENTITY_INPUTS.get(kind, ()):
            if name in props and name not in filled:
                candidate = _entity_value(kind, value)
                if value_problem(props[name], candidate) is None:
                    out[name] = candidate
                    filled.add(name)
                break
    out.update(check_inputs(pattern, inputs, pattern.name).accepted)
    return out
