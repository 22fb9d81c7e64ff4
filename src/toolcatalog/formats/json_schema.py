"""JSON Schema of the tool definition, exported to schema/tool.schema.json for editors and
other languages. The pydantic model is the source; a test keeps the file in step."""

from __future__ import annotations

import sys
from typing import Any

import orjson

from toolcatalog.model.tool import Tool

SCHEMA_ID = "https://toolcatalog.dev/schema/tool.schema.json"


def tool_json_schema() -> dict[str, Any]:
    schema = Tool.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def tool_json_schema_text() -> str:
    return orjson.dumps(tool_json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"


if __name__ == "__main__":  # pragma: no cover - used by `make schema`
    sys.stdout.write(tool_json_schema_text())
