"""The tool's form, derived from its JSON Schema (the pydantic model's): each property becomes a
field whose kind follows its schema type, so a field added to the model shows in the form
with no template change. Built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from toolcatalog.formats.json_schema import tool_json_schema

Kind = Literal[
    "text",  # one line
    "longtext",  # a textarea: descriptions, templates, expressions of any length
    "enum",  # a select
    "choices",  # checkboxes: a list of enum values
    "bool",  # a checkbox
    "number",
    "estimate",  # a number or an expression of the inputs (the expression language)
    "lines",  # a list of strings, one per line
    "data",  # free-form JSON data (inputs, outputs, metadata), edited as YAML or JSON
    "object",  # a fieldset of fields
    "list",  # a list of objects (capabilities, patterns)
]
# Strings that may be longer are edited in a textarea (descriptions, bodies, commands).
LONG_TEXT = 2000


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One property of the schema: what to render and how to read it back."""

    name: str
    kind: Kind
    title: str
    help: str = ""
    required: bool = False
    nullable: bool = False
    options: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = ()  # object: its properties; list: the item's
    min_items: int = 0
    default: Any = None  # the schema's default (shown for an absent checkbox, as a placeholder)
    singular: str = ""  # list: what one item is called ("capability")


def _title(name: str, schema: dict[str, Any]) -> str:
    return name.replace("_", " ").capitalize() if name else str(schema.get("title", ""))


class _Builder:
    def __init__(self, root: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self.defs[ref.rsplit("/", 1)[-1]]
            return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def field(self, name: str, schema: dict[str, Any], required: bool) -> FieldSpec:
        schema = self.resolve(schema)
        nullable = False
        variants = schema.get("anyOf")
        if isinstance(variants, list):
            kept = [self.resolve(v) for v in variants if v.get("type") != "null"]
            nullable = len(kept) < len(variants)
            types = {v.get("type") for v in kept}
            if types == {"number", "string"}:  # an estimate: a number or an expression
                return self._spec(name, schema, "estimate", required, nullable)
            outer = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**kept[0], **outer}
        kind = self._kind(schema)
        base = _spec_args(name, schema, required, nullable)
        if kind == "enum":
            return FieldSpec(kind=kind, options=tuple(map(str, schema["enum"])), **base)
        if kind == "choices":
            items = self.resolve(schema["items"])
            return FieldSpec(kind=kind, options=tuple(map(str, items["enum"])), **base)
        if kind == "object":
            return FieldSpec(kind=kind, fields=self.properties(schema), **base)
        if kind == "list":
            item = self.resolve(schema["items"])
            return FieldSpec(
                kind=kind,
                fields=self.properties(item),
                min_items=int(schema.get("minItems", 0)),
                singular=str(item.get("title", name)).lower(),
                **base,
            )
        return FieldSpec(kind=kind, **base)

    def _spec(
        self, name: str, schema: dict[str, Any], kind: Kind, required: bool, nullable: bool
    ) -> FieldSpec:
        return FieldSpec(kind=kind, **_spec_args(name, schema, required, nullable))

    def _kind(self, schema: dict[str, Any]) -> Kind:
        kind = schema.get("type")
        if "enum" in schema:
            return "enum"
        if "const" in schema:
            schema["enum"] = [schema["const"]]
            return "enum"
        if kind == "boolean":
            return "bool"
        if kind in ("number", "integer"):
            return "number"
        if kind == "array":
            items = self.resolve(schema.get("items", {}))
            if "enum" in items:
                return "choices"
            if items.get("type") == "object" and "properties" in items:
                return "list"
            return "lines"
        if kind == "object":
            return "object" if "properties" in schema else "data"
        if int(schema.get("maxLength", 0)) > LONG_TEXT:
            return "longtext"
        return "text"

    def properties(self, schema: dict[str, Any]) -> tuple[FieldSpec, ...]:
        required = set(schema.get("required", ()))
        return tuple(
            self.field(name, sub, name in required)
            for name, sub in schema.get("properties", {}).items()
        )


def _spec_args(name: str, schema: dict[str, Any], required: bool, nullable: bool) -> dict[str, Any]:
    return {
        "name": name,
        "title": _title(name, schema),
        "help": str(schema.get("description", "")),
        "required": required,
        "nullable": nullable,
        "default": schema.get("default"),
    }


@cache
def tool_form() -> FieldSpec:
    """The tool's form: an object field whose fields are the tool's properties."""
    root = tool_json_schema()
    builder = _Builder(root)
    return FieldSpec(name="", kind="object", title="Tool", fields=builder.properties(root))
