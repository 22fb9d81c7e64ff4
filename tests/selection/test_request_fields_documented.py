"""Every field a select request accepts is in docs/api.md's table of effects: a field added
to the models without a documented effect fails here (the effects themselves are tested
beside their stages: test_stage_a, test_policy, test_request_checks, test_selector)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from toolcatalog.selection.models import (
    Classification,
    Constraints,
    Intent,
    Preferences,
    SelectionRequest,
)

API_DOC = Path(__file__).parents[2] / "docs" / "api.md"


def _rows() -> dict[str, str]:
    """The effects table under "Every field of the request has an effect": each field its
    first cell names -> the row ("`classification.risk_level`, `.requires_approval`" names
    two; "other classification fields" names none)."""
    text = API_DOC.read_text(encoding="utf-8")
    table = text.split("Every field of the request has an effect", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        first = line.strip("|").split("|")[0].strip()
        if first.startswith("other"):
            continue
        names = re.findall(r"`([^`]+)`", first)
        head = names[0].rpartition(".")[0]
        for name in names:
            rows[f"{head}{name}" if name.startswith(".") else name] = line
    return rows


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    nested = {
        "classification": Classification,
        "intent": Intent,
        "preferences": Preferences,
        "constraints": Constraints,
    }
    out = []
    for name in model.model_fields:
        path = f"{prefix}{name}"
        inner = nested.get(name)
        if inner is not None and not (model is SelectionRequest and name == "request"):
            out += _paths(inner, f"{path}.")
        else:
            out.append(path)
    return out


def test_every_request_field_has_a_documented_effect() -> None:
    rows = _rows()
    undocumented = []
    for path in _paths(SelectionRequest):
        head, _, name = path.rpartition(".")
        wildcard = rows.get(f"{head}.*", "")
        if path in rows or f"{path}[]" in rows or f"`{name}`" in wildcard:
            continue
        undocumented.append(path)
    assert not undocumented, f"no row of docs/api.md's effects table: {undocumented}"


def test_the_table_names_no_field_the_request_does_not_have() -> None:
    paths = set(_paths(SelectionRequest))
    for name in _rows():
        assert name.removesuffix("[]") in paths or name.endswith(".*"), name
