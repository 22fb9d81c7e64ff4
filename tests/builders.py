"""Small builders for tests: valid tool documents and Settings for a test database."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from toolcatalog.config import Settings
from toolcatalog.formats.catalog_folder import CatalogFolder, read_catalog_folder
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary

STARTER = Path(__file__).resolve().parents[1] / "catalog"


def tool_doc(name: str = "sample_tool", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "description": f"{name} does a useful thing for tests.",
        "platform": "linux",
        "category": "system",
        "tags": ["test"],
        "capabilities": [
            {
                "name": "process_list",
                "description": "List processes.",
                "patterns": [
                    {
                        "name": "snapshot",
                        "description": "One snapshot of the process table.",
                        "profile": {"time_estimate_ms": 50, "accuracy": 0.9},
                        "policy": {"production_safe": True},
                    }
                ],
            }
        ],
        "examples": [f"what is {name} doing"],
    }
    doc.update(overrides)
    return doc


def make_tool(name: str = "sample_tool", **overrides: Any) -> Tool:
    return Tool.model_validate(tool_doc(name, **overrides))


@cache
def _starter_parsed() -> CatalogFolder:
    return read_catalog_folder(STARTER)


def starter_folder() -> CatalogFolder:
    """The repository's starter catalog, parsed once per run (~0.6 s of CPU a parse): its
    tools, vocabulary and environments are frozen models; each caller gets its own list."""
    parsed = _starter_parsed()
    return CatalogFolder(list(parsed.tools), parsed.vocabulary, parsed.environments)


def starter_definitions() -> tuple[list[Tool], Vocabulary | None]:
    """The starter catalog's tools and vocabulary (see starter_folder)."""
    folder = starter_folder()
    return folder.tools, folder.vocabulary


def make_settings(url: str, home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "home": home,
        "catalog_dir": None,
        "import_on_start": False,
        "pool_min_size": 1,
        "pool_max_size": 5,
        "startup_retry_s": 0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


class FixedSource:
    """A selector's source that answers one snapshot (`value`, replaced by the test)."""

    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.value = snapshot

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.value

    def snapshot(self) -> CatalogSnapshot:
        return self.value

    def peek_snapshot(self) -> CatalogSnapshot:
        return self.value
