"""A question that asks to single out a thing ("which process ...") goes to the tool whose text
says it reports per that thing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from toolcatalog.config import Settings
from toolcatalog.model.tool import Tool
from toolcatalog.selection.grain import GRAIN_LIFT, asked_objects, reported_per
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .selection_catalog import terse_tool, write_terse_catalog


def test_the_thing_a_question_singles_out_is_the_word_after_which_or_what() -> None:
    assert asked_objects("high iowait, which process is hammering the disk") == {"process"}
    assert asked_objects("What directories in /srv eat the disk") == {"directory"}
    assert asked_objects("what is eating the disk, what's slow") == frozenset()
    assert asked_objects("the disk is full on web07") == frozenset()


def test_what_a_tool_reports_per_is_read_from_its_name_description_and_capabilities() -> None:
    description = (
        "Shows read and write rates by thread. Batch mode by default. It answers "
        "'which files are hot'. It does not report per device (use iostat)."
    )
    tool = Tool.model_validate(yaml.safe_load(textwrap.dedent(terse_tool("iotop", description))))
    tool = tool.model_copy(update={"display_name": "iotop (per-process disk I/O)"})
    # "by default" is a manner; what it says it does not do is not what it reports per.
    assert reported_per(tool) == {"process", "thread", "file"}


def test_a_question_about_which_thing_lifts_the_tool_that_reports_per_that_thing(
    tmp_path: Path,
) -> None:
    tools = {
        "iostat": "Shows disk I/O per device, with the I/O wait of each process on it.",
        "iotop": "Shows the disk I/O per process.",
    }
    folder = write_terse_catalog(tmp_path / "c", tools)
    for semantic in (False, True):
        selector = Selector(
            FolderSource(folder), Settings(llm_url=None, semantic=semantic, home=tmp_path / "h")
        )
        if semantic:
            assert selector.wait_for_semantic(120), selector.semantic_status

        def lead(text: str, selector: Selector = selector) -> float:
            found = selector.select(SelectionRequest(request=text)).candidates
            relevance = {c.tool: c.features.relevance for c in found}
            return relevance["iotop"] / relevance["iostat"]

        # The same words, asked as "which process": iotop gains GRAIN_LIFT on iostat.
        asked, plain = (
            lead("which process is waiting on disk I/O"),
            lead("a process is waiting on disk I/O"),
        )
        assert asked > plain * (1 + GRAIN_LIFT / 2), semantic
