"""A description's clauses, each embedded as a text of its own for a tool without examples
(CLAUSE_KIND): a one-vector description is the mean of all it says, so a tool whose
second clause answers the request sits no nearer to it than to the first clause's topic.

A clause is a run of at least MIN_WORDS words between sentence ends, commas, colons, "and",
"or", "&" or " - "; a description yields clauses only when it has two or more (one clause is
the whole description again). Measured with bench/multi_vector.py (docs/performance.md,
session 11, `metatool`)."""

from __future__ import annotations

import re

# Each clause of the description of a tool without examples is a text of its own, of this kind
# (text_vectors.KINDS): the description's field is (1 - CLAUSE_WEIGHT) x the whole
# description's cosine + CLAUSE_WEIGHT x the most of it and its clauses'. Like the name,
# clauses take no part in the best single cosine nor in the calibration. Measured with
# bench/multi_vector.py (session 11, `metatool`): the starter catalog's names and
# descriptions, held-out 0.817 -> 0.867, dev 0.692 -> 0.692; MetaTool 2,000 0.592 / 0.812 ->
# 0.591 / 0.814; weight 1 lost dev 0.658. They are embedded after every other text
# (semantic.SemanticIndex.fill): selection answers without them meanwhile.
CLAUSE_KIND = 4
CLAUSE_WEIGHT = 0.5
MIN_WORDS = 3
_CUT = re.compile(r"(?<=[.!?;,:])\s+|\s+(?:and|or|-|&)\s+")


def clauses(text: str) -> list[str]:
    """`text`'s clauses of at least MIN_WORDS words, or none when it has fewer than two."""
    found = [part.strip(" .;,") for part in _CUT.split(text)]
    found = [part for part in found if len(part.split()) >= MIN_WORDS]
    return found if len(found) >= 2 else []
