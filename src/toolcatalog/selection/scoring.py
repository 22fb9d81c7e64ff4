"""Preferences (modes, explicit weights, cues in the text) and the score that joins relevance
with them.

The score: `(1 - A) * rel + A * utility * rel**G`, rel being relevance relative to the most
relevant tool (0..1) and utility the preference-weighted sum of the five dimensions (0..1).
Relevance is the larger share, and the rel**G factor shrinks what preferences can add as a
tool gets less relevant: with A = 0.4 and G = 3, a tool at 0.8 of the top relevance gains at
most 0.2 from preferences, about what separates the best and worst utility, so it overtakes the
top tool only when its profile is clearly better for the stated preference; at 0.6 it gains at
most 0.09 and a cheap but barely relevant tool can never displace a strongly relevant one.
With no stated or inferred preference A is 0.25: the profile only breaks near-ties.
"""

from __future__ import annotations

import re

from toolcatalog.selection.features import Dimensions
from toolcatalog.selection.models import Mode, PreferencesUsed, SelectionRequest, Weights

PREFERENCE_SHARE = 0.4
# Nobody stated a preference (balanced by default): the profile only breaks near-ties. At 0.4
# a default request's cost and speed outweighed relevance ("what directory is eating the disk"
# went to df, fast and cheap, over du, the one that answers it).
DEFAULT_PREFERENCE_SHARE = 0.25
# The seed put 0.4 on a mode's dimension and 0.15 on each other: then "thorough" still picks
# df over du, as df wins the four other dimensions. 0.6 lets the named dimension lead.
MODE_FOCUS = 0.6
RELEVANCE_EXPONENT = 3.0

_DIMENSIONS = ("speed", "accuracy", "cost", "complexity", "completeness")
_MODE_DIMENSION = {
    Mode.fast: "speed",
    Mode.accurate: "accuracy",
    Mode.thorough: "completeness",
    Mode.cheap: "cost",
    Mode.simple: "complexity",
}


def mode_weights(mode: Mode) -> Weights:
    """Balanced: 0.2 each. A named mode: MODE_FOCUS on its dimension, the rest shared."""
    if mode == Mode.balanced:
        return Weights()
    favoured = _MODE_DIMENSION[mode]
    rest = (1.0 - MODE_FOCUS) / 4
    return Weights(**{d: MODE_FOCUS if d == favoured else rest for d in _DIMENSIONS})


def normalised(weights: Weights) -> Weights:
    total = sum(getattr(weights, d) for d in _DIMENSIONS)
    if total <= 0:
        return Weights()
    return Weights(**{d: getattr(weights, d) / total for d in _DIMENSIONS})


# Generic cues of how a person wants an answer; checked in this order, first match wins.
_CUES: tuple[tuple[Mode, re.Pattern[str]], ...] = (
    (
        Mode.thorough,
        re.compile(
            r"\b(full (report|list|picture|scan|profile|history|audit)|everything|every single|"
            r"exhaustive|thorough(ly)?|in depth|in-depth|complete (list|report|picture|history)|"
            r"not (just )?a sample|comprehensive|all of (them|it))\b"
        ),
    ),
    (
        Mode.accurate,
        re.compile(
            r"\b(exact(ly)?|precise(ly)?|accurate(ly)?|certain|for sure|definitive(ly)?|"
            r"to the byte|no estimates?)\b"
        ),
    ),
    (
        Mode.fast,
        re.compile(
            r"\b(quick(ly)?|fast|rough (idea|estimate|number)|ballpark|at a glance|a glance|"
            r"instant(ly)?|roughly|approximate(ly)?|quick look|just a look)\b"
        ),
    ),
    (
        Mode.cheap,
        re.compile(r"\b(cheap(er|est)?|low[- ]cost|costs? less|inexpensive|save money|budget)\b"),
    ),
    (
        Mode.simple,
        re.compile(
            r"\b(simple(st)?|simply|easy|easiest|easier|beginner|not a (cli|command[- ]line) "
            r"person|user[- ]friendly|straightforward)\b"
        ),
    ),
)


# A question wants an answer now: under the default preference, a tool's interactive ways of
# answering come before those that must run in the background ("why is / full?" is not
# answered by a ten-second scan run off-peak). Only the choice among a tool's patterns moves.
_QUESTION = re.compile(
    r"^\s*(why|what|what's|whats|which|who|where|when|how|is|are|does|do|did|can|could|"
    r"has|have)\b|\?\s*$"
)
# ...and so does a diagnosis: a question in a later clause ("the root partition is at 97%,
# what's taking the space"), or a symptom stated for someone to explain ("used space doesn't
# add up on /data", "the GPO isn't applying", "explorer keeps crashing"), or asked to be
# found out. A request for a long run says so in its own words ("overnight", "follow",
# "record"), and its patterns are then all background or it names a mode.
_DIAGNOSIS = re.compile(
    r"[,;:]\s*(why|what|what's|whats|which|who|where|how)\b"
    r"|\b(does ?n[o']t|do ?n[o']t|is ?n[o']t|are ?n[o']t|wo ?n[o']t|can ?n[o']t|cannot|"
    r"did ?n[o']t) (add up|work|apply|applying|start|load|show|match|respond|resolve|boot)"
    r"|\bkeeps? (crashing|failing|restarting|dying|dropping|timing out|hanging)"
    r"|\b(find out|figure out|work out|troubleshoot|diagnose|investigate) (why|what|which|who"
    r"|where|how)\b"
)


def wants_answer_now(request: SelectionRequest, prefs: PreferencesUsed) -> bool:
    """A question or a diagnosis asked under the default preference (see _QUESTION and
    _DIAGNOSIS)."""
    if prefs.source != "default":
        return False
    text = request.request.lower()
    return bool(_QUESTION.search(text) or _DIAGNOSIS.search(text))


def infer_mode(text: str) -> Mode | None:
    low = text.lower()
    for mode, cue in _CUES:
        if cue.search(low):
            return mode
    return None


def resolve_preferences(request: SelectionRequest) -> PreferencesUsed:
    """Explicit weights win (mode is then None: it had no effect), then a named mode, then a
    mode inferred from the text, then balanced."""
    prefs = request.preferences
    if prefs is not None and prefs.weights is not None:
        return PreferencesUsed(mode=None, weights=normalised(prefs.weights), source="request")
    if prefs is not None and prefs.mode is not None:
        return PreferencesUsed(mode=prefs.mode, weights=mode_weights(prefs.mode), source="request")
    inferred = infer_mode(request.request)
    if inferred is not None:
        return PreferencesUsed(mode=inferred, weights=mode_weights(inferred), source="inferred")
    return PreferencesUsed(mode=Mode.balanced, weights=Weights(), source="default")


def utility(dims: Dimensions, weights: Weights) -> float:
    """The preference-weighted sum of the five dimensions."""
    return (
        weights.speed * dims.speed
        + weights.accuracy * dims.accuracy
        + weights.cost * dims.cost
        + weights.complexity * dims.complexity
        + weights.completeness * dims.completeness
    )


def preference_share(prefs: PreferencesUsed) -> float:
    """A stated or inferred preference weighs PREFERENCE_SHARE; the default one less."""
    return DEFAULT_PREFERENCE_SHARE if prefs.source == "default" else PREFERENCE_SHARE


def final_score(relevance: float, util: float, share: float = PREFERENCE_SHARE) -> float:
    damping = float(relevance**RELEVANCE_EXPONENT)
    return (1.0 - share) * relevance + share * util * damping
