"""What a tool's text says it does not do: clauses such as "it cannot say which directories use
the space (use du)" or "does not say which process issues the I/O", cut out of the texts that
describe the tool, so their words stop counting for it."""

from __future__ import annotations

import re
from functools import lru_cache

# A negated predicate of the text's subject (the tool): an auxiliary with "not" or "n't",
# "cannot", "never", "(says) nothing", or a bare "not" (not "not only"), where it opens a
# sentence or follows "It", "and", "but" or a comma ("It does not ...", "and does not ...",
# "files, not live database state"). Elsewhere a negation mostly describes an object ("disks
# that are not mounted yet", "changes made with it are not reconciled") or another tool
# ("which df cannot"), and what it says is still about this tool. "no" is left out: in
# descriptions it mostly belongs to a quoted error ("No space left on device") or to "no
# downtime", which say what a tool is for.
_CUE = re.compile(
    r"(?:^|(?<=[.;:!?])\s+|(?:,\s+|\b(?:and|but)\s+)?\b(?-i:It)\s+|(?<=,)\s+|\b(?:and|but)\s+)"
    r"(?P<cue>(?:(?:does|do|is|are|will|can|could|would|has|have)\s*n(?:o|')t"
    r"|cannot|can't|won't|never|not(?!\s+only\b)|(?:[a-z]+s\s+)?nothing)\b)",
    re.IGNORECASE,
)
# A quotation ("why doesn't this policy apply here") is a question the tool answers.
_QUOTED = re.compile(r"\"[^\"]*\"|\u201c[^\u201d]*\u201d")
# The clause a cue negates ends at a sentence mark followed by a space, a dash, a comma before
# a word that opens another clause, a parenthesis closing one the cue stands in, or the text's
# end; a colon ends it too ("the question iostat cannot: which process ..." keeps the
# question). A bare comma does not: it mostly joins a list ("says nothing about replication,
# load, credentials"). Marks inside the clause's own parentheses do not end it, so "(use iotop
# or pidstat -d)" goes with it.
_BOUNDARY = re.compile(
    r"[.;:!?](?=\s|$)|\s[-\u2014\u2013]\s|[\u2014\u2013]"
    r"|,(?=\s+(?:and|but|while|whereas|so|though|although|yet|then)\b)|$",
    re.IGNORECASE,
)
_PAREN = re.compile(r"[()]")
# "does not show job history unless queried from msdb" says when it does: the clause stays.
_UNLESS = re.compile(r"\bunless\b", re.IGNORECASE)


def _clause_end(text: str, start: int) -> int:
    depth = 0
    i = start
    while True:
        match = _BOUNDARY.search(text, i)
        assert match is not None  # "$" always matches
        for paren in _PAREN.finditer(text, i, match.start()):
            depth += 1 if paren.group() == "(" else -1
            if depth < 0:
                return paren.start()
        if depth == 0 or match.end() == len(text):
            return match.start()
        i = max(match.end(), i + 1)


@lru_cache(maxsize=16384)
def affirmed(text: str) -> str:
    """`text` without the clauses a negation cue opens, cue included: from the cue to the end
    of its clause (see _BOUNDARY). What comes before the cue stays ("it answers X, but it
    cannot say Y" keeps X)."""
    # Most texts hold no cue: three substring checks (~0.7 us) spare them the cue search
    # (~20 us for 150 characters; 187 of the starter catalog's 1,471 texts pass the check).
    low = text.lower()
    if "not" not in low and "n't" not in low and "never" not in low:
        return text
    if _CUE.search(text) is None:
        return text
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    kept: list[str] = []
    at = 0
    for match in _CUE.finditer(text):
        start = match.start("cue")
        if start < at or any(a <= start < b for a, b in quoted):
            continue
        end = _clause_end(text, match.end("cue"))
        if _UNLESS.search(text, match.end("cue"), end):
            continue
        kept.append(text[at:start])
        at = end
    kept.append(text[at:])
    return "".join(kept)
