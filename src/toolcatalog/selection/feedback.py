"""FeedbackMemory: the requests callers gave feedback on, as labelled examples the selector
learns from beside the catalog's own examples.

An accepted selection is an example of its tool, an overridden one an example of the tool
the caller used instead, a rejected one a counter-example of the tool that was decided. A new
request close to a labelled one (weighted Jaccard of their retrieval terms, lexicon
expansions included, >= MIN_SIMILARITY) lifts the labelled tool's lexical score by
LIFT x similarity of the best text score (about what a sure Stage A capability gives), and
counts it as about the request at the gate; a counter-example lowers it by up to
REJECT_SHARE. Requests unlike every labelled one are ranked exactly as without feedback, so
learning cannot move the requests it knows nothing about (tested on the held-out set).

The examples are not added to the catalog's index: that would rebuild it (0.3 s for the
starter catalog, 1.5 s at 10,000 tools) and re-embed on every piece of feedback. The memory
is rebuilt from the database by the refresher and extended in place by feedback given through
this process; looking a request up costs the postings of its rarest terms only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from toolcatalog.selection.text import query_terms

MIN_SIMILARITY = 0.7
LIFT = 1.0
REJECT_SHARE = 0.5
MAX_EXAMPLES = 10_000
# Examples compared per request at most, the newest first: a request that thousands of
# labelled requests resemble (a popular one) costs the same as a rare one. 10,000 examples of
# 64 requests repeated: p50 +0.3 ms at this cap, +4.5 ms without (bench/learning_overhead.py).
MAX_COMPARED = 64


@dataclass(frozen=True, slots=True)
class LabelledExample:
    request: str
    tool: str
    positive: bool  # accepted or overridden (an example); rejected (a counter-example)


def similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Weighted Jaccard of two term-weight maps (0..1)."""
    low = sum(min(w, b.get(t, 0.0)) for t, w in a.items())
    high = sum(a.values()) + sum(b.values()) - low
    return low / high if high > 0 else 0.0


class FeedbackMemory:
    """Labelled examples by their retrieval terms; add() is for one process's own feedback
    (appends are safe beside readers: a reader sees the example or not)."""

    def __init__(self, examples: Iterable[LabelledExample] = ()) -> None:
        self._terms: list[dict[str, float]] = []
        self._totals: list[float] = []
        self._labels: list[tuple[str, bool]] = []
        self._postings: dict[str, list[int]] = {}
        self._seen: set[tuple[str, str, bool]] = set()
        for example in examples:
            self.add(example)

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, example: LabelledExample) -> None:
        if len(self._labels) >= MAX_EXAMPLES:
            return  # the refresher keeps the newest MAX_EXAMPLES
        key = (" ".join(example.request.lower().split()), example.tool, example.positive)
        if key in self._seen:
            return  # the same verdict on the same words says nothing new
        terms = query_terms(example.request)
        if not terms:
            return
        self._seen.add(key)
        at = len(self._labels)
        self._terms.append(terms)
        self._totals.append(sum(terms.values()))
        self._labels.append((example.tool, example.positive))
        for term in terms:
            self._postings.setdefault(term, []).append(at)

    def _candidates(self, terms: Mapping[str, float]) -> set[int]:
        """Examples that can reach MIN_SIMILARITY: one missing terms worth more than
        1 - MIN_SIMILARITY of the request's weight cannot, so the postings of the rarest
        terms up to that weight hold every candidate."""
        total = sum(terms.values())
        found: set[int] = set()
        covered = 0.0
        for term in sorted(terms, key=lambda t: len(self._postings.get(t, ()))):
            found.update(self._postings.get(term, ())[-MAX_COMPARED:])
            covered += terms[term]
            if covered > (1.0 - MIN_SIMILARITY) * total:
                break
        if len(found) > MAX_COMPARED:
            return set(sorted(found)[-MAX_COMPARED:])
        return found

    def lifts(self, request: str) -> dict[str, float]:
        """Tool name -> net evidence in -1..1 (examples minus counter-examples, each by its
        similarity) for the labelled requests close to `request`; empty when none is."""
        if not self._labels:
            return {}
        terms = query_terms(request)
        if not terms:
            return {}
        total = sum(terms.values())
        net: dict[str, float] = {}
        for at in self._candidates(terms):
            other = self._terms[at]
            low = sum(min(terms[t], other[t]) for t in terms.keys() & other.keys())
            sim = low / (total + self._totals[at] - low)
            if sim >= MIN_SIMILARITY:
                tool, positive = self._labels[at]
                net[tool] = net.get(tool, 0.0) + (sim if positive else -sim)
        return {tool: max(-1.0, min(1.0, v)) for tool, v in net.items() if v}
