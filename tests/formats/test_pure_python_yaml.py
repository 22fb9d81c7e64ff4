"""Every catalog file means the same to PyYAML's pure-Python loader (the fallback where libyaml
is missing, and what editors' YAML servers accept) as to the loader the project uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toolcatalog.formats.definitions import parse_text

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
FILES = sorted(CATALOG.rglob("*.yaml"))


def test_the_catalog_folder_has_files() -> None:
    assert len(FILES) > 200


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CATALOG)))
def test_a_catalog_file_loads_alike_with_the_pure_python_loader(path: Path) -> None:
    text = path.read_text()
    pure = yaml.load(text, Loader=yaml.SafeLoader)
    assert pure == parse_text(text, str(path))
