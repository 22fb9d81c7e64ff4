"""The request against the catalog it is asked of: what is refused outright (an unknown tool in
`include_tools`: 422 with the closest names) and what had no effect (`warnings`, a 422 too when
the request says `strict`)."""

from __future__ import annotations

from collections.abc import Mapping

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.model.names import closest
from toolcatalog.model.pattern import Pattern
from toolcatalog.selection.inputs import MAX_SUGGESTED, check_inputs, unknown_input_names
from toolcatalog.selection.models import SelectionRequest


def refuse_unknown_tools(request: SelectionRequest, tools: Mapping[str, object]) -> None:
    """Raise InvalidDefinition (422) when `include_tools` names a tool the catalog lacks: an
    allow-list of nothing known would answer every request with no decision."""
    problems: list[Problem] = []
    for i, name in enumerate(request.constraints.include_tools):
        if name not in tools:
            near = closest(name, tools) if len(problems) < MAX_SUGGESTED else []
            hint = f"; closest: {', '.join(near)}" if near else ""
            problems.append(
                Problem(f"constraints.include_tools[{i}]", f"no tool {name!r} in the catalog{hint}")
            )
    if problems:
        raise InvalidDefinition("include_tools names tools the catalog does not have", problems)


def request_warnings(
    request: SelectionRequest, tools: Mapping[str, object], declared: frozenset[str]
) -> list[str]:
    """What in the request cannot have an effect, whatever is decided."""
    out = unknown_input_names(request.inputs, declared)
    unknown = 0
    for i, name in enumerate(request.constraints.exclude_tools):
        if name not in tools:
            unknown += 1
            near = closest(name, tools) if unknown <= MAX_SUGGESTED else []
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            out.append(
                f"constraints.exclude_tools[{i}]: no tool {name!r} in the catalog, "
                f"so excluding it changes nothing{hint}"
            )
    if request.classification is not None:
        out += [
            f"{path}: not read by the selector, so it has no effect"
            for path in request.classification.unused_fields()
        ]
    prefs = request.preferences
    if prefs is not None and prefs.mode is not None and prefs.weights is not None:
        out.append(
            f"preferences.mode: {prefs.mode.value!r} is ignored because preferences.weights "
            "is given (explicit weights decide)"
        )
    return out


def decision_warnings(
    request: SelectionRequest, pattern: Pattern, label: str, declared: frozenset[str]
) -> list[str]:
    """The decided pattern's view of the request's inputs: values its schema refuses, required
    inputs not given, and inputs other patterns declare but it does not (they had no effect
    on its estimates)."""
    out = list(check_inputs(pattern, request.inputs, label).problems)
    own = pattern.inputs.get("properties", {})
    for name in sorted(set(request.inputs) & declared - set(own)):
        out.append(f"inputs.{name}: not an input of {label}, so it had no effect on the decision")
    return out


def enforce_strict(request: SelectionRequest, warnings: list[str]) -> None:
    """With `strict: true`, any warning refuses the request (InvalidDefinition, 422)."""
    if not request.strict or not warnings:
        return
    problems = []
    for line in warnings:
        path, _, message = line.partition(": ")
        problems.append(Problem(path, message) if message else Problem("", line))
    raise InvalidDefinition(
        f"the request has {len(warnings)} warning(s) and strict is set", problems
    )
