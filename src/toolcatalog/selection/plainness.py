"""How plainly a change pattern names an action a request asks for: in its name or its
capability's, only in its use cases or description, or not at all (restarting Apache is not
rebooting the host). Read from the words, for any catalog."""

from __future__ import annotations

import re
from functools import lru_cache

from toolcatalog.selection.intent import action_words
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.pattern_entries import PatternEntry
from toolcatalog.selection.tokenizer import stem

_TOKEN = re.compile(r"[a-z][a-z-]*")
_CODE = re.compile(r"`[^`]*`")
_CLAUSE_START = re.compile(
    r"(?:^|[.;:,()/]|\b(?:and|or|then)\b)\s*(?:(?:and|or|then|also)\s+)?([a-z]+)\b"
)
# An action word of this length or more also matches longer words it begins ("flush" in
# "flushdb", "rollback" in "rollbacks").
MIN_STEM = 5
# An action after these words is a circumstance, not what the pattern does ("after reboot").
_IN_PASSING = frozenset({"after", "before", "since", "during", "without", "across", "no"})


def plainness(entry: PatternEntry, action: str) -> int:
    """How plainly a change pattern names `action`: 2 in its name or capability, 1 only in its
    use cases or its description's prose, 0 not at all (restarting Apache is not rebooting
    the host)."""
    if _names(f"{entry.pattern.name} {entry.capability.name}", action):
        return 2
    pattern = entry.pattern
    if _names(" ; ".join(pattern.typical_use_cases), action):
        return 1
    if action_words(action) & _leading_verbs(pattern.description):
        return 1
    return 0


@lru_cache(maxsize=4096)
def _leading_verbs(description: str) -> frozenset[str]:
    """The words that open a clause of a description's prose ("Restarts the unit; then
    drains it"): where a description says what the pattern does. Only there, and only as
    whole words: elsewhere its words name things ("the assignment group", "a page of
    results", "POST /api/..." in a code span: the mechanism), and what it says the pattern
    does not do is cut first (negation.affirmed)."""
    prose = affirmed(_CODE.sub(" ; ", description)).lower()
    return frozenset(m.group(1) for m in _CLAUSE_START.finditer(prose))


@lru_cache(maxsize=256)
def _action_forms(action: str) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """The action's words, their stems, and the words long enough to match as prefixes."""
    words = action_words(action)
    prefixes = tuple(sorted(w for w in words if len(w) >= MIN_STEM))
    return words, frozenset(stem(w) for w in words), prefixes


def _names(text: str, action: str) -> bool:
    """Whether `text` names `action` as what it does: a word, its stem or a joined pair
    ("power_cycle"), not after a word that makes it a circumstance ("after reboot")."""
    words, stems, prefixes = _action_forms(action)
    tokens = _TOKEN.findall(text.lower().replace("_", " "))
    for k, t in enumerate(tokens):
        if k and tokens[k - 1] in _IN_PASSING:
            continue
        pair = t + tokens[k + 1] if k + 1 < len(tokens) else ""
        if stem(t) in stems or pair in words or t.startswith(prefixes):
            return True
    return False
