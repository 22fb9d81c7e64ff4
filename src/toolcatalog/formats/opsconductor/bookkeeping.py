"""The bookkeeping every part of a conversion shares: where each seed field went (mapped,
kept in metadata, dropped), notes, problems at seed paths, and checked scalar values."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from toolcatalog.formats.opsconductor.values import SEED_CONSTANTS, jsonable, put, snake, to_float
from toolcatalog.formats.problems import Loc, json_path, problems_from_validation
from toolcatalog.model.expressions import ExpressionError, parse_expression

Convert = Callable[[Any, Loc], Any]


class Kind(StrEnum):
    """What happened to a seed field on its way (the migration report groups by it)."""

    renamed = "renamed"  # a name changed: snake_cased, or a generic name given a meaning
    converted = "converted"  # mapped onto our model with its value changed (units, forms)
    defaulted = "defaulted"  # absent in the seed: a value was chosen, or the seed's default differs
    kept = "kept"  # no place in our model: kept verbatim under metadata.opsconductor
    dropped = "dropped"  # no form here at all (binary data, empty tags)


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that happened to one seed field: `topic` is the same text for the same kind of
    change in every tool (so a report can count them), `detail` the particulars."""

    kind: Kind
    topic: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


class Bookkeeping:
    """One document's conversion. It builds our tool as plain data and records where each seed
    field went; `ours` maps our JSON paths to seed locations, so model errors name seed fields."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, Loc, str]] = []
        self.changes: list[Change] = []
        self.metadata: dict[str, Any] = {}
        self.ours: dict[str, Loc] = {}

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((json_path(loc), loc, message))

    def note(self, loc: Loc, kind: Kind, topic: str, detail: str) -> None:
        self.changes.append(Change(kind, topic, json_path(loc), detail))

    def place(self, ours: Loc, seed: Loc) -> None:
        self.ours[json_path(ours)] = seed

    def keep(self, loc: Loc, value: Any) -> None:
        try:
            put(self.metadata, loc, jsonable(value))
        except ValueError as exc:
            self.note(loc, Kind.dropped, "a value JSON cannot hold", f"dropped: {exc}")
        else:
            general = [
                "*" if isinstance(part, int) or prev in ("capabilities", "patterns") else part
                for prev, part in zip((None, *loc), loc, strict=False)
            ]
            topic = json_path(general)
            self.note(loc, Kind.kept, topic, "kept in metadata.opsconductor")

    def keep_rest(self, loc: Loc, rest: dict[str, Any]) -> None:
        for key, value in rest.items():
            self.keep((*loc, key), value)

    def move(
        self, rest: dict[str, Any], key: str, out: dict[str, Any], seed: Loc, ours: Loc,
        to: str | None = None, convert: Convert | None = None,
    ) -> None:  # fmt: skip
        """Pop `key` from the seed mapping `rest` into `out[to]`, converted, remembering where."""
        if key not in rest:
            return
        self.place((*ours, to or key), (*seed, key))
        value = rest.pop(key)
        value = convert(value, (*seed, key)) if convert else value
        if value is not None:
            out[to or key] = value

    def add_validation_errors(self, exc: ValidationError) -> None:
        known = {path for path, _, _ in self.problems}
        for problem in problems_from_validation(exc):
            probe = problem.path  # the longest placed prefix of our path, then our segments
            while probe and probe not in self.ours:
                probe = probe[: max(probe.rfind("."), probe.rfind("["), 0)]
            loc = self.ours.get(probe, ())
            path = (json_path(loc) + problem.path[len(probe) :]).lstrip(".")
            if path not in known:
                known.add(path)
                self.problems.append((path, loc, problem.message))

    # --- values ----------------------------------------------------------------------------------

    def number(self, value: Any, loc: Loc, high: float | None = None) -> float | None:
        number = to_float(value)
        if number is None or number < 0 or (high is not None and number > high):
            wanted = f"a number between 0 and {high:g}" if high is not None else "a number >= 0"
            self.problem(loc, f"must be {wanted}, not {value!r}")
            return None
        return number

    def score(self, value: Any, loc: Loc) -> float | None:
        return self.number(value, loc, 1.0)

    def boolean(self, value: Any, loc: Loc) -> bool | None:
        if not isinstance(value, bool):
            self.problem(loc, f"must be true or false, not {value!r}")
            return None
        return value

    def expression(self, value: Any, loc: Loc, names: set[str], condition: bool) -> Any:
        """A number, or a checked expression whose input names are added to `names`."""
        if not condition and to_float(value) is not None:
            return self.number(value, loc)
        wanted = "a condition such as 'N > 50'" if condition else "a number or an expression"
        if not isinstance(value, str):
            self.problem(loc, f"must be {wanted}, not {value!r}")
            return None
        text = value.strip()
        for constant, literal in SEED_CONSTANTS.items():
            if re.search(rf"\b{constant}\b", text):
                text = re.sub(rf"\b{constant}\b", literal, text)
                topic = "the seed's constants pi and e inlined"
                self.note(
                    loc, Kind.converted, topic, f"the seed's constant {constant} -> {literal}"
                )
        try:
            parsed = parse_expression(text)
        except ExpressionError as exc:
            self.problem(loc, str(exc))
            return None
        if parsed.is_boolean() is not condition:
            self.problem(loc, f"must be {wanted}, got {value!r}")
            return None
        names.update(parsed.names)
        return text

    def name(self, raw: Any, loc: Loc, what: str) -> str:
        name = snake(str(raw))
        if name != str(raw):
            self.note(
                loc, Kind.renamed, f"{what} names snake_cased", f"{what} name {raw!r} -> {name!r}"
            )
        return name
