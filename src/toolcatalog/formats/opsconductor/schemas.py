"""Seed inputs and outputs (`required_inputs`, `optional_inputs`, `expected_outputs`) as JSON
Schema objects."""

from __future__ import annotations

import json
import re
from typing import Any

from toolcatalog.formats.opsconductor.bookkeeping import Bookkeeping, Kind
from toolcatalog.formats.opsconductor.values import (
    IDENTIFIER,
    IMPLIED_INPUTS,
    INPUT_TYPES,
    KEYWORD_ALIASES,
    SCHEMA_KEYWORDS,
    compiles,
    is_text,
    keyed,
    snake,
    to_float,
)
from toolcatalog.formats.problems import Loc


class SchemaFields(Bookkeeping):
    def implied_input(self, name: str, seed: Loc) -> dict[str, Any]:
        schema = dict(IMPLIED_INPUTS.get(name, {"type": "number"}))
        shown = f"default {schema['default']}" if "default" in schema else "no default"
        shown = f"{schema['type']}, {shown}"
        detail = f"its expressions use undeclared {name!r}: added it as an input ({shown})"
        self.note(seed, Kind.defaulted, "undeclared expression names added as inputs", detail)
        return schema

    def inputs(
        self, rest: dict[str, Any], seed: Loc, ours: Loc
    ) -> tuple[dict[str, Any], list[str]]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for key in ("required_inputs", "optional_inputs"):
            items = rest.pop(key, [])
            if not isinstance(items, list):
                self.problem((*seed, key), "must be a list of inputs (name, type, description...)")
                continue
            for i, item in enumerate(items):
                loc = (*seed, key, i)
                item = {"name": item} if isinstance(item, str) else item
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str) or not re.fullmatch(IDENTIFIER, name):
                    self.problem(loc, "must have a 'name' that is an identifier, e.g. max_depth")
                elif name in properties:
                    self.problem((*loc, "name"), f"input {name!r} is declared twice")
                else:
                    self.place((*ours, "inputs", "properties", name), loc)
                    properties[name] = self.property(keyed(item), loc)
                    required.extend([name] if key == "required_inputs" else [])
        return properties, required

    def property(self, rest: dict[str, Any], loc: Loc) -> dict[str, Any]:
        """A seed input or output (without its name) as a JSON Schema."""
        rest.pop("name", None)
        schema: dict[str, Any] = {}
        kind = INPUT_TYPES.get(snake(str(rest.get("type"))))
        if kind is not None:
            schema["type"] = kind
            del rest["type"]
        if "description" in rest:
            schema["description"] = rest.pop("description")
        if rest.get("default") is not None:
            schema["default"] = self.default(rest.pop("default"), kind, (*loc, "default"))
        rest.pop("default", None)  # null: no default, as the field's absence says
        if "validation" in rest:
            self.validation(rest.pop("validation"), kind, schema)
        for key in [k for k in rest if KEYWORD_ALIASES.get(k, k) in SCHEMA_KEYWORDS]:
            keyword, value = KEYWORD_ALIASES.get(key, key), rest.pop(key)
            schema[keyword] = [value] if key == "example" else value
        self.keep_rest(loc, rest)  # an unknown type, `required`, anything else
        return schema

    def default(self, value: Any, kind: str | None, loc: Loc) -> Any:
        converted = value
        if isinstance(value, str) and kind == "boolean" and value.lower() in ("true", "false"):
            converted = value.lower() == "true"
        elif (
            isinstance(value, str) and kind in ("integer", "number") and to_float(value) is not None
        ):
            number = float(value)
            converted = int(number) if kind == "integer" and number.is_integer() else number
        if converted is not value:
            detail = f"{value!r} -> {json.dumps(converted)} ({kind})"
            self.note(loc, Kind.converted, "input defaults written as text typed", detail)
        return converted

    def validation(self, value: Any, kind: str | None, schema: dict[str, Any]) -> None:
        # A regex on a string is JSON Schema's `pattern`, a mapping of schema keywords merges in;
        # anything else (prose, a regex on a number) stays as written under x-validation.
        keywords = (
            {KEYWORD_ALIASES.get(str(k), str(k)) for k in value}
            if isinstance(value, dict)
            else set()
        )
        if isinstance(value, str) and kind in (None, "string") and compiles(value):
            schema["pattern"] = value
        elif keywords and keywords <= SCHEMA_KEYWORDS:
            schema.update({KEYWORD_ALIASES.get(str(k), str(k)): v for k, v in value.items()})
        else:
            schema["x-validation"] = value

    def outputs(self, value: Any, loc: Loc) -> dict[str, Any] | None:
        if isinstance(value, str):
            return {"description": value}
        if not isinstance(value, list):
            self.problem(loc, "must be a list of outputs (names or maps with a name), or text")
            return None
        properties: dict[str, Any] = {}
        for i, item in enumerate(value):
            if isinstance(item, str):
                properties[item] = {}
            elif isinstance(item, dict) and is_text(item.get("name")):
                properties[str(item["name"])] = self.property(keyed(item), (*loc, i))
            else:
                self.problem((*loc, i), "must be a name or a mapping with a 'name'")
        return {"type": "object", "properties": properties}
