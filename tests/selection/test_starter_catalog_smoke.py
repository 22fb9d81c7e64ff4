"""One smoke test on the repository's starter catalog (the rest use their own YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_the_starter_catalog_answers_a_disk_question_and_refuses_a_recipe() -> None:
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None))
    disk = selector.select(SelectionRequest(request="which directories fill up /var on web01"))
    assert disk.decision is not None
    assert disk.decision.tool in {"du", "ncdu", "df"}
    cake = selector.select(SelectionRequest(request="bake a chocolate cake"))
    assert cake.decision is None
