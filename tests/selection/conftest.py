"""Fixtures of the selection tests: a small YAML catalog in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, write_catalog


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog", CATALOG)


@pytest.fixture
def selector(catalog_dir: Path) -> Selector:
    return Selector(FolderSource(catalog_dir, check_interval_s=0), Settings(llm_url=None))
