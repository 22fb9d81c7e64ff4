"""A command's `--help` text as a draft tool: the program and its positional arguments from
the `Usage:` line (the command template), the first paragraph as the description, each option
that takes a value as an input (flags as boolean inputs), the capability named into the
vocabulary by the description's words. Profiles are neutral and marked unmeasured, and the
effect is left undeclared (a help text does not say whether the command changes anything):
an editor reviews the draft before anything is saved.

Bounded: the text's size, its lines' length and the options kept; text that is not text (NUL
bytes, mostly control characters) is refused with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.opsconductor.values import snake
from toolcatalog.formats.upstream import UNMEASURED, CapabilityNamer, UpstreamResult, UpstreamSource
from toolcatalog.model.fields import TOOL_NAME_RE
from toolcatalog.model.tool import RESERVED_NAMES
from toolcatalog.model.vocabulary import Vocabulary

MAX_HELP_CHARS = 100_000
MAX_OPTIONS = 40
MAX_LINE = 2_000
_USAGE = re.compile(r"^\s*usage:\s*(.+)$", re.I)
_PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
# An option line: indented flags (a short and/or long one, maybe a value's name after a space,
# `=` or `[=`), two spaces or a tab, then the text; as in GNU, BSD and argparse help. The line
# is split at that gap first and only its short head is matched, so no line can make the
# match backtrack (one regex over the whole line took 0.3 s on a line of spaces).
_GAP = re.compile(r"\s{2,}|\t")
_FLAGS = re.compile(
    r"^(-[A-Za-z0-9])?(?:, ?)?(--[A-Za-z0-9][A-Za-z0-9-]*)?(?:[ =]|\[=)?"
    r"([A-Za-z<][A-Za-z0-9_<>|.-]*)?\]?$"
)
MAX_FLAGS = 80
_POSITIONAL = re.compile(r"^<?([A-Za-z][A-Za-z0-9_-]*)>?(\.\.\.)?$")
_NUMERIC = {"n", "num", "number", "count", "size", "bytes", "lines", "seconds", "secs", "int"}


@dataclass
class HelpDraft:
    """What a help text gave: the tool document and what the reader should check."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    proposed: dict[str, list[str]] = field(default_factory=dict)


def refuse_binary(text: str, what: str) -> None:
    """InvalidDefinition when `text` is not text a person pasted (NUL bytes, control bytes)."""
    if "\x00" in text:
        raise InvalidDefinition(
            f"the {what} holds NUL bytes",
            [Problem("", f"NUL bytes: this looks like binary data, not {what}; paste text")],
        )
    sample = text[:10_000]
    control = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f\x1b")
    if sample and control > len(sample) // 20:
        raise InvalidDefinition(
            f"the {what} is mostly control characters",
            [Problem("", f"{control} control characters in the first {len(sample)}; paste text")],
        )


def _usage(lines: list[str]) -> tuple[str, list[str]]:
    for i, line in enumerate(lines):
        m = _USAGE.match(line)
        if not m:
            continue
        words = m.group(1).split()
        if not words and i + 1 < len(lines):  # "Usage:" alone, the synopsis below it
            words = lines[i + 1].split()
        if words:
            program = words[0].rsplit("/", 1)[-1]
            return program, words[1:]
    return "", []


def _inputs(words: list[str]) -> tuple[list[str], list[str]]:
    """(positional input names, their placeholders in the template) from the usage words."""
    names: list[str] = []
    for word in words:
        if word.startswith(("[", "-", "{", "|")) or word.lower() in ("options", "command"):
            continue
        m = _POSITIONAL.match(word)
        if m and (word.isupper() or word.startswith("<")):
            name = snake(m.group(1)) or "arg"
            if name not in names and name[0].isalpha():
                names.append(name)
    return names, [f"{{{n}}}" for n in names]


def _description(lines: list[str]) -> str:
    """The first paragraph that is not the usage, an option or a heading."""
    paragraph: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            if paragraph:
                break
            continue
        if _USAGE.match(line) or text.startswith("-") or text.endswith(":") or _option(line):
            if paragraph:
                break
            continue
        paragraph.append(text)
    return " ".join(paragraph)[:2_000]


def _option(line: str) -> tuple[str, str | None, str] | None:
    """(the flag, long if given, else short; its value's name; text) of an option line."""
    if not line[:1].isspace():
        return None
    parts = _GAP.split(line.strip(), maxsplit=1)
    if len(parts) != 2 or len(parts[0]) > MAX_FLAGS:
        return None
    m = _FLAGS.match(parts[0])
    flag = m.group(2) or m.group(1) if m else None
    if m is None or flag is None:
        return None
    return flag, m.group(3), parts[1]


def _options(lines: list[str], notes: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        parsed = _option(line)
        if parsed is None:
            continue
        flag, metavar, text = parsed
        name = snake(flag.lstrip("-"))
        if not name or not name[0].isalpha() or name in found or name in ("help", "version"):
            continue
        if len(found) == MAX_OPTIONS:
            notes.append(f"more than {MAX_OPTIONS} options: the rest were left out")
            break
        if metavar and metavar.strip("<>").lower() in _NUMERIC:
            schema: dict[str, Any] = {"type": "integer"}
        elif metavar:
            schema = {"type": "string"}
        else:
            schema = {"type": "boolean"}
        found[name] = {**schema, "description": f"{flag}: {text.strip()}"[:500]}
    return found


def draft_from_help(text: str, vocabulary: Vocabulary | None) -> HelpDraft:
    """The draft of the command whose `--help` output is `text`; InvalidDefinition (with
    what to paste instead) when it is too large, binary, or names no program."""
    if len(text) > MAX_HELP_CHARS:
        raise InvalidDefinition(
            "the help text is too long",
            [Problem("", f"{len(text)} characters; paste at most {MAX_HELP_CHARS}")],
        )
    refuse_binary(text, "help text")
    lines = [line[:MAX_LINE] for line in text.replace("\r\n", "\n").split("\n")]
    program, words = _usage(lines)
    if not _PROGRAM.match(program):
        raise InvalidDefinition(
            "no command name found",
            [Problem("", "the help text needs a line 'Usage: <command> ...' naming the command")],
        )
    notes: list[str] = []
    positional, placeholders = _inputs(words)
    options = _options(lines, notes)
    name = snake(program)[:64].strip("_")
    if not re.fullmatch(TOOL_NAME_RE, name) or name in RESERVED_NAMES:
        name = f"cmd_{name}".strip("_")[:64]
    about = _description(lines) or f"{program}: a command-line tool (its help gives no summary)."
    properties = {n: {"type": "string", "description": "positional argument"} for n in positional}
    for key, schema in options.items():
        properties.setdefault(key, schema)
    # The namer records a capability name the vocabulary lacks in `proposed`, nothing else.
    result = UpstreamResult(UpstreamSource("openapi", program, "inline", "help"))
    capability, capability_text = CapabilityNamer(vocabulary).name(
        {"name": name, "description": about, "category": "system"}, result, name, ""
    )
    inputs: dict[str, Any] = {"type": "object", "properties": properties}
    if positional:
        inputs["required"] = positional
    document: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "description": about,
        "platform": "linux",
        "category": "system",
        "tags": ["from-help"],
        "execution": {"kind": "command", "command": " ".join([program, *placeholders])},
        "capabilities": [
            {
                "name": capability,
                "description": capability_text[:10_000],
                "patterns": [
                    {
                        "name": "default",
                        "description": about,
                        "inputs": inputs,
                        "profile": {"limitations": [UNMEASURED]},
                    }
                ],
            }
        ],
    }
    notes.append(
        "the effect is not declared (read, change or destructive): say what the command does"
    )
    if options:
        notes.append(f"{len(options)} option(s) became inputs: keep those an agent should set")
    return HelpDraft(document, notes, result.proposed)
