"""A tool document to the form's fields and back, both walking the form derived from the JSON
Schema (form_schema). Field names are the JSON paths that validation problems carry
(`capabilities[0].patterns[1].profile.time_estimate_ms`), so each problem lands at its field.

An empty field means "not given" (the model's default applies), so the document read back
from an unchanged form validates to the same tool: a form save of an unchanged tool changes
nothing."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.console.form_schema import FieldSpec, tool_form
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import parse_text
from toolcatalog.formats.dump import dump_yaml

_MISSING: Any = object()
# Items per list (capabilities, a capability's patterns) a posted form may hold; far more
# than any tool has (the starter catalog's largest has 10 patterns).
MAX_ITEMS = 200
# A list of choices left empty is not given (allowed environments: all); this box says "none".
NONE_CHOSEN = "~none"
_INDEX = re.compile(r"\[(\d{1,6})\]")
_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): (.+)$", re.S)
_ANY_INDEX = re.compile(r"\[\d+\]")
_LAST = re.compile(r"(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])$")


def dom_id(path: str) -> str:
    """An element id for a field path: letters, digits, `_` and `-` only."""
    return "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", path).strip("-") if path else "f-tool"


@dataclass
class FormNode:
    """One field as rendered: its spec, path, current text and the problems found there."""

    spec: FieldSpec
    path: str
    value: str = ""
    selected: tuple[str, ...] = ()
    children: list[FormNode] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    readonly: bool = False
    show_help: bool = False  # the field's help is shown once per form, at its first field

    @property
    def id(self) -> str:
        return dom_id(self.path)

    @property
    def placeholder(self) -> str:
        """The default an empty field stands for (not for choices, checkboxes, selects)."""
        if self.spec.kind in ("enum", "bool", "choices") or self.spec.default is None:
            return ""
        return number_text(self.spec.default)

    @property
    def help_id(self) -> str:
        """The id of the field's help text, shared by every pattern's field of that name."""
        return "h-" + dom_id(_ANY_INDEX.sub("", self.path))

    def posted(self) -> list[tuple[str, str]]:
        """The (name, value) pairs a browser posts for this field's form, unchanged (the
        wire format PostedForm reads; the tests and the bench post it)."""
        kind = self.spec.kind
        if kind in ("object", "list"):
            return [pair for child in self.children for pair in child.posted()]
        if kind == "bool":
            return [(self.path, "false")] + ([(self.path, "true")] if self.value else [])
        if kind == "choices":
            return [(self.path, ""), *((self.path, v) for v in self.selected)]
        return [(self.path, self.value)]

    @property
    def has_errors(self) -> bool:
        return any(node.errors for node in self.walk())

    def walk(self) -> list[FormNode]:
        out = [self]
        for child in self.children:
            out += child.walk()
        return out


def number_text(value: Any) -> str:
    """50.0 -> '50', 0.25 -> '0.25', 1e20 -> '1e+20': as a person writes it, exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _display(spec: FieldSpec, value: Any) -> tuple[str, tuple[str, ...]]:
    if value is _MISSING or value is None:
        if spec.kind == "bool":
            return ("true" if spec.default is True else ""), ()
        return "", ()
    if spec.kind == "bool":
        return ("true" if value is True else ""), ()
    if spec.kind in ("number", "estimate"):
        return number_text(value), ()
    if spec.kind == "lines":
        items = value if isinstance(value, list) else [value]
        return "\n".join(str(v) for v in items), ()
    if spec.kind == "choices":
        chosen = tuple(str(v) for v in value) if isinstance(value, list) else ()
        return "", chosen or ((NONE_CHOSEN,) if value == [] else ())
    if spec.kind == "data":
        return ("" if value in ({}, []) else dump_yaml(value)), ()
    return str(value), ()


def form_nodes(document: Any, *, fixed_name: bool = False, values: bool = True) -> FormNode:
    """The form of `document` (any mapping, valid or not); `values=False`: the fields only,
    without their text (the live check places problems, it does not render the fields)."""
    root = _node(tool_form(), "", document if isinstance(document, dict) else {}, values)
    if fixed_name:
        for child in root.children:
            if child.path == "name":
                child.readonly = True
    # Ten patterns would repeat each field's help ten times (most of a large form's bytes).
    seen: set[str] = set()
    for node in root.walk():
        if node.spec.help and node.help_id not in seen:
            seen.add(node.help_id)
            node.show_help = True
    return root


def _node(spec: FieldSpec, path: str, value: Any, values: bool) -> FormNode:
    if spec.kind == "object":
        data = value if isinstance(value, dict) else {}
        children = [
            _node(f, _join(path, f.name), data.get(f.name, _MISSING), values) for f in spec.fields
        ]
        return FormNode(spec, path, children=children)
    if spec.kind == "list":
        items = value if isinstance(value, list) else []
        item_spec = FieldSpec(name=spec.singular, kind="object", title=spec.singular,
                              fields=spec.fields)  # fmt: skip
        children = [_node(item_spec, f"{path}[{i}]", v, values) for i, v in enumerate(items)]
        return FormNode(spec, path, children=children)
    if not values:
        return FormNode(spec, path)
    text, selected = _display(spec, value)
    return FormNode(spec, path, text, selected)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class PostedForm:
    """The posted fields (name -> every value given, in order) read back into a document."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = defaultdict(list)
        self.indexes: dict[str, set[int]] = defaultdict(set)
        for name, value in pairs:
            self.values[name].append(value.replace("\r\n", "\n"))
            for m in _INDEX.finditer(name):
                self.indexes[name[: m.start()]].add(int(m.group(1)))
        self.problems: list[Problem] = []

    def document(self) -> dict[str, Any]:
        built = self._build(tool_form(), "")
        return built if isinstance(built, dict) else {}

    def _build(self, spec: FieldSpec, path: str) -> Any:
        if spec.kind == "object":
            out = {}
            for f in spec.fields:
                value = self._build(f, _join(path, f.name))
                if value is not _MISSING:
                    out[f.name] = value
            return out if out or not path or not spec.nullable else _MISSING
        if spec.kind == "list":
            item = FieldSpec(name=spec.singular, kind="object", title=spec.singular,
                             fields=spec.fields)  # fmt: skip
            found = sorted(self.indexes.get(path, ()))
            if len(found) > MAX_ITEMS:
                self.problems.append(Problem(path, f"{len(found)} items; at most {MAX_ITEMS}"))
                found = found[:MAX_ITEMS]
            return [self._build(item, f"{path}[{i}]") for i in found] if found else _MISSING
        given = self.values.get(path)
        if given is None:
            return _MISSING
        if spec.kind == "choices":
            chosen = [v for v in given if v and v != NONE_CHOSEN]
            return chosen or ([] if NONE_CHOSEN in given else _MISSING)
        text = given[-1]
        if spec.kind == "bool":
            return text == "true"
        if not text.strip():
            return _MISSING
        if spec.kind == "lines":
            return [line.strip() for line in text.split("\n") if line.strip()] or _MISSING
        if spec.kind == "data":
            return self._data(path, text)
        return text

    def _data(self, path: str, text: str) -> Any:
        try:
            return parse_text(text, None)
        except InvalidDefinition as exc:
            for problem in exc.problems or [Problem("", exc.detail)]:
                where = f" (line {problem.line})" if problem.line else ""
                self.problems.append(Problem(path, f"{problem.message}{where}"))
            return _MISSING


def unknown_fields(document: Any) -> list[Problem]:
    """The keys of `document` the form has no field for (a misspelt key in YAML): switching
    to the form would drop them, so the switch names each one."""
    found: list[Problem] = []

    def walk(spec: FieldSpec, value: Any, path: str) -> None:
        if spec.kind == "object" and isinstance(value, dict):
            known = {f.name: f for f in spec.fields}
            for key, sub in value.items():
                if key not in known:
                    where = _join(path, str(key))
                    found.append(Problem(where, "not a field of a tool: the form leaves it out"))
                else:
                    walk(known[key], sub, _join(path, str(key)))
        elif spec.kind == "list" and isinstance(value, list):
            item = FieldSpec(name=spec.singular, kind="object", title=spec.singular,
                             fields=spec.fields)  # fmt: skip
            for i, sub in enumerate(value):
                walk(item, sub, f"{path}[{i}]")

    walk(tool_form(), document, "")
    return found


def place_problems(root: FormNode, problems: list[Problem]) -> list[tuple[str, Problem]]:
    """Attach each problem to the deepest field it concerns; returns (field id, problem) for
    the summary. A model-level problem naming a field in its message ('profile.cost_estimate:
    ...') goes to that field; a problem inside free-form data goes to the data's field."""
    nodes = {node.path: node for node in root.walk()}
    placed = []
    for problem in problems:
        path, message = problem.path, problem.message
        named = _PREFIX.match(message)
        if named:
            path, message = _join(path, named.group(1)), named.group(2)
        while path not in nodes:
            shorter = _LAST.sub("", path)
            path = shorter if shorter != path else ""
        nodes[path].errors.append(message)
        placed.append((nodes[path].id, Problem(problem.path or path, message, line=None)))
    return placed


def add_item(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The document with a new empty item at the end of the list at `path` (a new
    capability comes with one empty pattern, as it needs one)."""
    target = _locate(document, path, create=True)
    if isinstance(target, list):
        spec = _spec_at(path)
        target.append(_blank(spec) if spec is not None else {})
    return document


def remove_item(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The document without the list item at `path` (`capabilities[0].patterns[2]`)."""
    m = re.match(r"^(.*)\[(\d+)\]$", path)
    if m:
        target = _locate(document, m.group(1), create=False)
        if isinstance(target, list) and int(m.group(2)) < len(target):
            del target[int(m.group(2))]
    return document


def _blank(spec: FieldSpec) -> dict[str, Any]:
    return {f.name: [_blank(f)] for f in spec.fields if f.kind == "list" and f.min_items}


def _spec_at(path: str) -> FieldSpec | None:
    spec: FieldSpec | None = tool_form()
    for part in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _INDEX.sub("", path)):
        spec = next((f for f in spec.fields if f.name == part), None) if spec else None
    return spec


def _locate(document: dict[str, Any], path: str, *, create: bool) -> Any:
    node: Any = document
    for part in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            node = node[i] if isinstance(node, list) and i < len(node) else None
        elif isinstance(node, dict):
            if create and part not in node:
                node[part] = []
            node = node.get(part)
        else:
            return None
    return node
