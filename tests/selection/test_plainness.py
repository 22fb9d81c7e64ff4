"""How plainly a change pattern names the action asked for (selection/plainness.py): its
name, then its use cases or what its description's prose says it does."""

from __future__ import annotations

import textwrap

import yaml

from toolcatalog.model.tool import Tool
from toolcatalog.selection.pattern_entries import PatternEntry
from toolcatalog.selection.plainness import plainness

from .selection_catalog import terse_tool


def _entry(description: str, name: str = "default") -> PatternEntry:
    tool = Tool.model_validate(yaml.safe_load(textwrap.dedent(terse_tool("svc", "A service."))))
    capability = tool.capabilities[0]
    pattern = capability.patterns[0].model_copy(
        update={"name": name, "description": description, "effect": "change"}
    )
    return PatternEntry(0, tool, capability, pattern)


def test_an_action_the_pattern_is_named_after_is_plainest() -> None:
    assert plainness(_entry("Runs it.", name="restart_unit"), "restart") == 2


def test_an_action_a_clause_of_the_description_opens_with_counts() -> None:
    assert plainness(_entry("Restarts the unit and waits for it."), "restart") == 1
    assert plainness(_entry("Checks the config; then reloads the unit."), "reload") == 1


def test_words_that_name_things_code_and_what_it_does_not_do_do_not_count() -> None:
    # "assignment" is not assigning, a page of results is not paging, `POST ...` is the
    # mechanism, and the description says the pattern does not restart.
    assert plainness(_entry("Lists the assignment group and a page of results."), "send") == 0
    assert plainness(_entry("`POST /api/now/table/incident` with the fields."), "send") == 0
    assert (
        plainness(_entry("Reloads the configuration. It does not restart the unit."), "restart")
        == 0
    )
