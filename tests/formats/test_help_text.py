"""A command's --help text as a draft tool: the usage line, the description, the options as
inputs; any text either drafts a valid tool or is refused with the reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.help_text import MAX_OPTIONS, draft_from_help
from toolcatalog.model.tool import Tool

GNU_STYLE = """\
Usage: rotatelog [OPTION]... FILE
Rotate a log file and compress the old one.

  -k, --keep=COUNT       keep COUNT old files
  -z, --compress         gzip the rotated file
      --suffix=TEXT      name rotated files FILE.TEXT
  -h, --help             display this help and exit
"""
ARGPARSE_STYLE = """\
usage: backup.py [-h] [--dry-run] [--target TARGET] source

Copy a directory to the backup host.

positional arguments:
  source           directory to copy

options:
  -h, --help       show this help message and exit
  --dry-run        only say what would be copied
  --target TARGET  backup host name
"""


def test_a_gnu_help_text_gives_the_command_template_and_the_option_inputs() -> None:
    draft = draft_from_help(GNU_STYLE, None)
    tool = Tool.model_validate(draft.document)
    assert tool.name == "rotatelog"
    assert tool.description == "Rotate a log file and compress the old one."
    assert tool.execution is not None
    assert tool.execution.command == "rotatelog {file}"
    inputs = tool.capabilities[0].patterns[0].inputs
    assert inputs["required"] == ["file"]
    assert inputs["properties"]["keep"]["type"] == "integer"
    assert inputs["properties"]["compress"]["type"] == "boolean"
    assert inputs["properties"]["suffix"]["type"] == "string"
    assert "help" not in inputs["properties"]
    assert not tool.capabilities[0].patterns[0].effect_declared


def test_an_argparse_help_text_is_drafted_too() -> None:
    tool = Tool.model_validate(draft_from_help(ARGPARSE_STYLE, None).document)
    assert tool.name == "backup_py"
    assert tool.description == "Copy a directory to the backup host."
    properties = tool.capabilities[0].patterns[0].inputs["properties"]
    assert properties["dry_run"]["type"] == "boolean"
    assert properties["target"]["type"] == "string"


def test_options_past_the_limit_are_left_out_and_said() -> None:
    many = "Usage: big [OPTION]...\nDoes much.\n\n" + "".join(
        f"  --opt{i}=VALUE   option {i}\n" for i in range(MAX_OPTIONS + 10)
    )
    draft = draft_from_help(many, None)
    properties = draft.document["capabilities"][0]["patterns"][0]["inputs"]["properties"]
    assert len(properties) == MAX_OPTIONS
    assert any("left out" in note for note in draft.notes)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("no usage here", "Usage: <command>"),
        ("Usage: $(rm -rf /)", "Usage: <command>"),
        ("Usage: ok\x00", "NUL bytes"),
        ("Usage: ok " + "\x01" * 100, "control characters"),
    ],
)
def test_a_text_that_is_no_help_text_is_refused_with_the_reason(text: str, said: str) -> None:
    with pytest.raises(InvalidDefinition) as refused:
        draft_from_help(text, None)
    assert said in str(refused.value.problems[0])


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=40),
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60), max_size=8
    ),
)
def test_any_text_drafts_a_valid_tool_or_is_refused(usage: str, lines: list[str]) -> None:
    text = "\n".join([f"Usage: {usage}", *lines])
    try:
        draft = draft_from_help(text, None)
    except InvalidDefinition as exc:
        problems = exc.problems
    else:
        problems = []
        Tool.model_validate(draft.document)
    assert all(p.message for p in problems)


def test_lines_of_spaces_and_of_repeated_flags_are_read_without_backtracking() -> None:
    """One regex over a whole line took 0.3 s per line of 2,000 spaces after a flag (22 s for
    a 100 kB paste); the line is split at its gap first, so these read at once."""
    text = "Usage: spacey\nReads lines.\n" + ("  -a" + " " * 1990 + "\n") * 48
    text += " " + " -a" * 600 + "  text\n"
    draft = draft_from_help(text, None)
    assert draft.document["name"] == "spacey"
