"""A description's clauses, each embedded as a text of its own for a tool without examples
(semantic.CLAUSE_KIND): a one-vector description is the mean of all it says, so a tool whose
second clause answers the request sits no nearer to it than to the first clause's topic.

A clause is a run of at least MIN_WORDS words between sentence ends, commas, colons, "and",
"or", "&" or " - "; a description yields clauses only when it has two or more (one clause is
the whole description again). Measured with bench/multi_vector.py (docs/performance.md,
session 11, `metatool`)."""

from __future__ import annotations

import re

MIN_WORDS = 3
_CUT = re.compile(r"(?<=[.!?;,:])\s+|\s+(?:and|or|-|&)\s+")


def clauses(text: str) -> list[str]:
    """`text`'s clauses of at least MIN_WORDS words, or none when it has fewer than two."""
    found = [part.strip(" .;,") for part in _CUT.split(text)]
    found = [part for part in found if len(part.split()) >= MIN_WORDS]
    return found if len(found) >= 2 else []
