"""schema/tool.schema.json is the model's JSON Schema, and the catalog validates against it."""

from __future__ import annotations

from pathlib import Path

import orjson

from toolcatalog.formats.json_schema import tool_json_schema, tool_json_schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_json_schema_matches_the_model() -> None:
    assert (ROOT / "schema/tool.schema.json").read_text() == tool_json_schema_text(), (
        "schema/tool.schema.json is out of date; run `make schema`"
    )


def test_the_schema_names_every_top_level_field_and_requires_the_essentials() -> None:
    schema = tool_json_schema()
    assert set(schema["required"]) == {
        "name",
        "description",
        "platform",
        "category",
        "capabilities",
    }
    assert {"execution", "examples", "metadata", "docs_url"} <= set(schema["properties"])
    orjson.dumps(schema)  # serialisable as plain JSON
