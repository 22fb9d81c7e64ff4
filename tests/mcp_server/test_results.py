"""select_tool's output schema: every field of SelectionResult at the top, nested objects
shallow and inlined (cheap for clients that check each answer), and real answers conform."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from toolcatalog.mcp.results import shallow_output_schema
from toolcatalog.mcp.select_tool import SELECT_OUTPUT_SCHEMA
from toolcatalog.selection.models import SelectionResult


def test_the_schema_lists_every_field_and_needs_no_reference_resolution() -> None:
    full = SelectionResult.model_json_schema()

    assert shallow_output_schema(SelectionResult) == SELECT_OUTPUT_SCHEMA
    assert set(SELECT_OUTPUT_SCHEMA["properties"]) == set(full["properties"])
    assert SELECT_OUTPUT_SCHEMA["required"] == full["required"]
    text = json.dumps(SELECT_OUTPUT_SCHEMA)
    assert "$ref" not in text
    assert "$defs" not in SELECT_OUTPUT_SCHEMA
    assert len(text) < len(json.dumps(full)) / 2
    Draft202012Validator.check_schema(SELECT_OUTPUT_SCHEMA)


def test_a_nested_object_keeps_its_required_keys() -> None:
    candidates = SELECT_OUTPUT_SCHEMA["properties"]["candidates"]
    required = SelectionResult.model_json_schema()["$defs"]["Candidate"]["required"]

    assert candidates["items"]["type"] == "object"
    assert candidates["items"]["required"] == required
    validator = Draft202012Validator(SELECT_OUTPUT_SCHEMA)
    broken = {"decision": None, "candidates": [{"tool": "df"}], "preferences_used": {},
              "tie_break": {}, "catalog_version": 1, "elapsed_ms": 1.0}  # fmt: skip
    assert list(validator.iter_errors(broken))
