"""The names a request writes: the tools it names, and the OS they imply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.request_names import implied_platform
from toolcatalog.selection.retrieval import PLATFORM_PENALTY, CatalogIndex

from .selection_catalog import CATALOG, write_catalog


def test_the_os_of_a_named_tool_is_implied_and_lowers_tools_of_other_oses(
    tmp_path: Path,
) -> None:
    index = CatalogIndex(load_folder_snapshot(write_catalog(tmp_path / "c", CATALOG)))
    assert implied_platform(index, "systemctl says active but nothing listens") == {"linux"}
    assert implied_platform(index, "restart the spooler") == frozenset()
    # Tools of two OSes named: nothing implied. A portable tool implies nothing.
    assert implied_platform(index, "systemctl and get_service disagree") == frozenset()
    assert implied_platform(index, "prometheus shows a gap") == frozenset()
    factor = index.platform_factor(frozenset({"linux"}), boost=False)
    position = index.tool_position
    assert isinstance(factor, np.ndarray)
    assert factor[position["get_service"]] == pytest.approx(1.0 - PLATFORM_PENALTY)
    assert factor[position["systemctl"]] == factor[position["prometheus"]] == 1.0
    boosted = index.platform_factor(frozenset({"linux"}))
    assert isinstance(boosted, np.ndarray)
    assert boosted[position["systemctl"]] > 1.0
