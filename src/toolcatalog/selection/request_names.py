"""The names a request writes: a tool it names as the problem or rules out, or as the one to
use; the operating system the tools it names imply; product acronyms; names the encoder
cannot read. Each counts only when few tools hold the word (NAMED_MAX_SHARE), so plain
English ("find", "top") names nothing."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from toolcatalog.selection.retrieval import OS_NAMES, CatalogIndex
from toolcatalog.selection.semantic import SemanticView
from toolcatalog.selection.spelling import identifier_shaped
from toolcatalog.selection.text import request_tokens

# A tool the request names as the problem ("journalctl shows nothing for the unit", "systemctl
# says active but nothing listens", "'htop: command not found'") is where the person already
# looked: the answer is the next tool to look with. Such a tool keeps NAMED_PROBLEM_LEXICAL of
# its lexical score and loses NAMED_PROBLEM_COSINE of its cosine. A name counts only when it
# is the tool's own word (held by at most NAMED_MAX_SHARE of the tools' texts, or 3: `find`,
# `top` or `last` are plain English in a third of the starter catalog's tools, `journalctl` is
# in 5 %) and a failure cue follows it in the same clause, or a cue before it rules it out.
NAMED_PROBLEM_LEXICAL = 0.3
NAMED_PROBLEM_COSINE = 0.15
NAMED_MAX_SHARE = 0.06
_FAILURE_AFTER_NAME = (
    r"(?:shows?|showing|says?|saying|reports?|returns?|gives?|prints?|outputs?|lists?)\b"
    r"[^.;,]*?\b(?:nothing|empty|none|no\b|but\b|wrong|error|fails?)"
    r"|(?:is |are )?(?:command )?not found|(?:is |are )?(?:blocked|not allowed|not an option"
    r"|not available|unavailable|not installed|off[- ]limits)\b"
    r"|(?:does ?n[o']t|is ?n[o']t|is not|won'?t|can'?t) (?:work|run|start|show|help)"
    r"|(?:fails?|failed|failing|hangs?|crashe[sd]|is broken)\b"
)
_CLAUSE_AFTER = r"[^.;!?]{0,60}?\b"
# What follows a named tool's word when it is the problem, matched at the word's end: one
# compiled pattern. Searched as one expression with the word in it, each new word compiled
# it anew (~3.7 ms of CPU, in 48 of 552 starter-catalog selects at once, the p95's tail).
_FAILURE_AFTER = re.compile(rf"\W*{_CLAUSE_AFTER}(?:{_FAILURE_AFTER_NAME})")
# ...or that the request rules out before naming it ("instead of splunk", "rather than
# kubectl", "without docker", "not psql but", "don't use curl"): the person wants another way.
_RULED_OUT_BEFORE_NAME = re.compile(
    r"\b(?:instead of|rather than|other than|except|without|avoid(?:ing)?|not|no|never"
    r"|(?:do ?n[o']t|can'?t|cannot|must ?n[o']t|won'?t) use)"
    r"\s+(?:using\s+|use\s+|via\s+|with\s+|through\s+|the\s+|an?\s+)?[\"'`]?$"
)


# A tool the request names as the one to use ("use dig +trace to see...", "with kubectl,
# drain...", "via ssh") is what the person asked for: its lexical score gains
# NAMED_INSTRUMENT_LIFT of the best and its cosine NAMED_INSTRUMENT_COSINE, so that a tool
# merely near in meaning does not take its place (a catalog of bare descriptions weighs
# meaning most). The same rarity rule as above applies to the name.
NAMED_INSTRUMENT_LIFT = 0.3
NAMED_INSTRUMENT_COSINE = 0.1
_INSTRUMENT_BEFORE_NAME = re.compile(r"\b(?:use|using|with|via|through)\s+(?:the\s+)?[\"'`]?$")
# A tool the request merely mentions by its whole name counts as named to use too, when the
# request writes the word as a name ("Start SpeedCrunch", "a new DVC project", "open Mumble",
# "start `sulogin`"), the encoder cannot read it (no whole word of its vocabulary: the
# request's vector misses it, and the other words' meaning picks a tool near them, "Start
# SpeedCrunch" -> speedread) and at most MENTION_MAX_TOOLS tools' texts hold it (the tool's
# own word). Names written in lower case are left alone: plain words the vocabulary lacks
# ("rephrase" is a MetaTool plugin) and names said as the problem in passing ("sfc found
# corrupt files but couldn't repair some") then lost right answers.
MENTION_MAX_TOOLS = 3


# A word the request writes in capitals (GKE, AKS, SPL, HKLM, DD) is usually a product or
# vendor name: when few tools have it (as for NAMED_MAX_SHARE), it counts ACRONYM_WEIGHT times
# a plain word, so the product named outweighs the generic words around it.
ACRONYM_WEIGHT = 2.0
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")


def _rare_enough(index: CatalogIndex) -> int:
    return max(3, int(NAMED_MAX_SHARE * len(index.tools)))


def weigh_acronyms(index: CatalogIndex, text: str, terms: dict[str, float]) -> None:
    """Raise the weight of the request's capitalised product words in `terms` (in place)."""
    most = _rare_enough(index)
    for word in _ACRONYM.findall(text):
        for term in request_tokens(word):
            if terms.get(term, 0.0) >= 1.0 and (
                0 < index.tool_index.document_frequency(term) <= most
            ):
                terms[term] = ACRONYM_WEIGHT


def tool_named(index: CatalogIndex, word: str) -> int | None:
    """The tool a request's word names: its name, or the head of exactly one tool's name
    ("splunk" for splunk_api, "kafka" for kafka_cli), as an index position."""
    name = word.replace("-", "_")
    position = index.tool_position.get(name)
    if position is not None:
        return position
    head = name + "_"
    names = index.tool_names
    at = bisect.bisect_left(names, head)
    heads = at < len(names) and names[at].startswith(head)
    alone = heads and (at + 1 == len(names) or not names[at + 1].startswith(head))
    return at if alone else None


def named_as_problem(index: CatalogIndex, text: str) -> list[int]:
    """Tools the request names as the problem or rules out (see NAMED_PROBLEM_*), as index
    positions."""
    return named_tools(index, text)[0]


def named_tools(
    index: CatalogIndex, text: str, readable: Callable[[str], bool] | None = None
) -> tuple[list[int], list[int]]:
    """Tools the request names as the problem or rules out, and tools it names as the one
    to use (see NAMED_INSTRUMENT_*) or mentions by a name the encoder cannot read (`readable`:
    whether the encoder reads a word whole; None: no mention counts), as index positions."""
    low = text.lower()
    most = _rare_enough(index)
    problems: list[int] = []
    instruments: list[int] = []
    for word in set(re.findall(r"[a-z][a-z0-9_-]{1,40}", low)):
        position = tool_named(index, word)
        if position is None or index.tool_index.document_frequency(word) > most:
            continue
        named = rf"\b{re.escape(word)}\b"
        starts = [m.start() for m in re.finditer(named, low)]
        if any(_FAILURE_AFTER.match(low, at + len(word)) for at in starts) or any(
            _RULED_OUT_BEFORE_NAME.search(low, 0, at) for at in starts
        ):
            problems.append(position)
        elif any(_INSTRUMENT_BEFORE_NAME.search(low, 0, at) for at in starts) or (
            readable is not None
            and not readable(word)
            and _own_name(index, word, position)
            and any(_written_as_name(text, at, at + len(word)) for at in starts)
        ):
            instruments.append(position)
    return sorted(problems), sorted(instruments)


def _written_as_name(text: str, start: int, end: int) -> bool:
    """Does the request write text[start:end] as a name: in quotes or backticks, shaped as an
    identifier (SpeedCrunch, DVC), or capitalised where a sentence does not start (Mumble)?"""
    if len(text) != len(text.lower()):  # positions of the lower-cased text would not fit
        return False
    word = text[start:end]
    before = text[:start].rstrip()
    return (
        (before[-1:] in ("`", "'", '"') and text[end : end + 1] in ("`", "'", '"'))
        or identifier_shaped(word)
        or (word[:1].isupper() and before != "" and before[-1] not in ".!?:")
    )


def _own_name(index: CatalogIndex, word: str, position: int) -> bool:
    """Is `word` the whole name of the tool at `position`, and are its terms in at most
    MENTION_MAX_TOOLS tools' texts?"""
    if index.tool_names[position] != word.replace("-", "_"):
        return False
    terms = request_tokens(word)
    return bool(terms) and all(
        0 < index.tool_index.document_frequency(t) <= MENTION_MAX_TOOLS for t in terms
    )


def implied_platform(index: CatalogIndex, text: str) -> frozenset[str]:
    """The operating system the tools a request names are bound to, from the catalog's own
    platform fields ("systemctl says active but ..." is on Linux, "wevtutil shows event 41"
    on Windows): empty when it names none, or tools of more than one OS. A name counts as in
    named_tools (the tool's own word, not plain English)."""
    most = _rare_enough(index)
    found: set[str] = set()
    for word in set(re.findall(r"[a-z][a-z0-9_-]{1,40}", text.lower())):
        position = tool_named(index, word)
        if position is not None and index.tool_index.document_frequency(word) <= most:
            platform = index.tools[position].platform.value
            if platform in OS_NAMES:
                found.add(platform)
    return frozenset(found) if len(found) == 1 else frozenset()


def name_holders(index: CatalogIndex, semantic: SemanticView, text: str) -> list[int]:
    """The tools that hold, word for word, a name of the request: a word the encoder cannot
    read (spelling.Speller.names: "NotReady", "PasswordLastSet", "SIGTERM") that few tools
    have (as for NAMED_MAX_SHARE). That is strong lexical evidence for them, which the
    encoder, cutting the word into pieces that mean nothing, cannot give."""
    holders: set[int] = set()
    most = _rare_enough(index)
    for name in semantic.names(text):
        for term in request_tokens(name):
            tools = index.tool_index.documents_with(term)
            if len(tools) <= most:
                holders.update(tools.tolist())
    return sorted(holders)
