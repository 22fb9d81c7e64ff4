"""What the quality benches count, shared by select_quality.py and public_quality.py.

For a request with right tools: top-1 (the decision is a right tool; no decision counts as
wrong), first (the first candidate is a right tool, decision or not), recall@5 (a right tool
among the first five distinct candidate tools), MRR, and no decision. For a request no tool
should take: refused (no decision)."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcatalog.selection.models import SelectionResult


@dataclass
class Tally:
    answerable: int = 0
    top1: int = 0
    first: int = 0
    recalled: int = 0
    reciprocal: float = 0.0
    undecided: int = 0
    outside: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, query: str, result: SelectionResult, right: set[str]) -> bool:
        """Count one result; `right` empty means no tool should take the request. True when
        the result is right (top-1, or a refusal of an out-of-scope request)."""
        decision = result.decision
        if not right:
            self.outside += 1
            self.refused += decision is None
            if decision is not None:
                self.misses.append(f"want null got {decision.tool} | {query}")
            return decision is None
        tools = list(dict.fromkeys(c.tool for c in result.candidates))
        rank = next((i + 1 for i, t in enumerate(tools) if t in right), None)
        hit = decision is not None and decision.tool in right
        self.answerable += 1
        self.top1 += hit
        self.first += rank == 1
        self.recalled += rank is not None and rank <= 5
        self.reciprocal += 1 / rank if rank else 0.0
        self.undecided += decision is None
        if not hit:
            got = decision.tool if decision else f"null ({result.reason})"
            self.misses.append(
                f"want {sorted(right)} got {got} rank {rank} top5 {tools[:5]} | {query}"
            )
        return hit

    def summary(self) -> str:
        n = max(self.answerable, 1)
        out = []
        if self.answerable:
            out.append(
                f"queries {self.answerable}  top-1 {self.top1 / n:.3f}  "
                f"first {self.first / n:.3f}  recall@5 {self.recalled / n:.3f}  "
                f"MRR {self.reciprocal / n:.3f}  no decision {self.undecided / n:.3f} "
                f"({self.undecided})"
            )
        if self.outside:
            out.append(
                f"out of scope {self.outside}  refused {self.refused / self.outside:.3f} "
                f"({self.refused}/{self.outside})"
            )
        return "\n".join(out)
