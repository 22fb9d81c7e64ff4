"""The public Python API and the documented configuration are pinned."""

from __future__ import annotations

import re
from pathlib import Path

import toolcatalog
from toolcatalog.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_is_exactly_all() -> None:
    assert sorted(toolcatalog.__all__) == [
        "Actor",
        "CachedTool",
        "Capability",
        "CatalogError",
        "CatalogSnapshot",
        "Conflict",
        "Environment",
        "Execution",
        "Expression",
        "ExpressionError",
        "ImportReport",
        "InvalidDefinition",
        "NotFound",
        "Pattern",
        "Platform",
        "Policy",
        "PreconditionFailed",
        "Problem",
        "Profile",
        "Runtime",
        "Settings",
        "Status",
        "StoreUnavailable",
        "Tool",
        "ToolCatalogService",
        "Vocabulary",
        "VocabularyEntry",
        "open_runtime",
        "parse_expression",
    ]
    for name in toolcatalog.__all__:
        assert getattr(toolcatalog, name) is not None


def _env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"TOOLCATALOG_{field.upper()}"


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))
    expected = {_env_name(f) for f in Settings.model_fields}
    assert documented == expected


def test_every_setting_has_a_description() -> None:
    assert [f for f, info in Settings.model_fields.items() if not info.description] == []
