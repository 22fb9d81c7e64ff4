"""The names a request writes: the tools it names, and the OS they imply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.request_names import MENTION_MAX_TOOLS, implied_platform, named_tools
from toolcatalog.selection.retrieval import PLATFORM_PENALTY, CatalogIndex

from .selection_catalog import CATALOG, write_catalog, write_terse_catalog


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


def test_a_whole_tool_name_the_encoder_cannot_read_counts_as_named_to_use(
    tmp_path: Path,
) -> None:
    descriptions = {
        "speedcrunch": "A high-precision scientific calculator.",
        "speedread": "A speed reader that shows text one word at a time.",
        "less": "Open a file for interactive reading, a page at a time.",
        "mdbook": "Create online books from Markdown files.",
        "mdcat": "Show Markdown files in the terminal, as mdbook renders them.",
        "glow": "Render Markdown on the command line, as mdbook and mdcat do.",
        "pandoc": "Convert documents between formats; mdbook books as well.",
    }
    # Enough tools that a name four of them hold still passes the looser rarity (6 %).
    descriptions |= {f"ledger_{n}": f"Keep the accounts of shop {n}." for n in range(70)}
    index = CatalogIndex(load_folder_snapshot(write_terse_catalog(tmp_path / "c", descriptions)))
    words_the_encoder_reads = {"start", "less", "than", "a", "page", "build", "book", "it"}
    readable = words_the_encoder_reads.__contains__
    position = index.tool_position
    speedcrunch, speedread = position["speedcrunch"], position["speedread"]
    assert named_tools(index, "Start SpeedCrunch", readable) == ([], [speedcrunch])
    assert named_tools(index, "then open Speedread", readable) == ([], [speedread])
    assert named_tools(index, "start `speedread`", readable) == ([], [speedread])
    # Without the encoder's words, a plain mention names nothing (only "use X" does).
    assert named_tools(index, "Start SpeedCrunch") == ([], [])
    # Written in lower case, or capitalised only as a sentence's first word: not a name.
    assert named_tools(index, "start speedcrunch", readable) == ([], [])
    assert named_tools(index, "Speedread it. Fast.", readable) == ([], [])
    # A name the encoder reads is plain English to it, however it is written.
    assert named_tools(index, "read it in Less, a page at a time", readable) == ([], [])
    # A name more than MENTION_MAX_TOOLS tools' texts hold is not the tool's own word.
    assert sum("mdbook" in f"{n} {d}" for n, d in descriptions.items()) > MENTION_MAX_TOOLS
    assert named_tools(index, "build the book in `mdbook`", readable) == ([], [])
    assert named_tools(index, "build a book with mdbook", readable) == ([], [position["mdbook"]])
    # A name the request rules out stays a problem, never named to use.
    assert named_tools(index, "not SpeedCrunch", readable) == ([speedcrunch], [])
