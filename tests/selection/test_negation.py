"""What a tool's text says it does not do is cut from the texts that describe it."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.selector import Selector

from .selection_catalog import terse_tool, write_catalog


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Reports free space per mount. It cannot say which directories use the space "
            "(use du or ncdu), and it is fast.",
            "Reports free space per mount. It , and it is fast.",
        ),
        (
            "Shows device latency. It does not say which process issues the I/O (use iotop, "
            "or pidstat -d), keeps no history. Runs on Linux.",
            "Shows device latency. It . Runs on Linux.",
        ),
        ("Backs up files, not live database state (dump first).", "Backs up files, ."),
        ("It is not a backup tool and says nothing about history.", "It ."),
    ],
)
def test_a_clause_saying_what_the_tool_does_not_do_is_cut_to_its_end(text: str, kept: str) -> None:
    assert affirmed(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        # A question the tool answers, quoted.
        'It answers "why doesn\'t this policy apply here" for a user.',
        # What comes after the colon is what it answers.
        "It answers the question iostat cannot: which process is hammering the disk.",
        # A negation that describes an object or another tool, not the tool.
        "Lists disks that are not mounted yet (which df cannot).",
        "Changes made with it are not reconciled by the cluster.",
        # A condition says when it does.
        "It does not show job history unless queried from msdb.",
        "Checks whether or not the port is open, not only on TCP.",
        "No space left on device: finds the directory that fills the disk.",
    ],
)
def test_a_negation_that_is_not_about_what_the_tool_does_stays(text: str) -> None:
    assert affirmed(text) == text


def test_words_a_description_uses_to_point_elsewhere_do_not_pick_its_tool(tmp_path: Path) -> None:
    # The "which directories" of df's description sends the reader to du; counted for df
    # it made "what directory in /srv is eating the disk" pick df.
    folder = write_catalog(
        tmp_path / "catalog",
        {
            "df.yaml": terse_tool(
                "df",
                "Reports used and free disk space per mounted file system. It cannot say "
                "which directories or files use the space (use du).",
            ),
            "du.yaml": terse_tool("du", "Estimates the disk usage of a directory tree."),
        },
    )
    for semantic in (False, True):
        selector = Selector(
            FolderSource(folder, check_interval_s=0), Settings(llm_url=None, semantic=semantic)
        )
        if semantic:
            assert selector.wait_for_semantic()
        result = selector.select(
            SelectionRequest(request="which directory is eating the disk on web07")
        )
        assert result.candidates[0].tool == "du"
