"""How a refusal rule on the nearest-neighbour lead would move a quality bench, replayed from
one run of it: per request, how much nearer it is to a generic request than to the catalog
(the lead gate.py compares with `Calibration.generic_margin`) and whether the lexical side
finds a tool about it (gate.about_request).

    python bench/gate_leads.py [--without-everyday] bench/public_quality.py \
        --tools PATH/tools.jsonl --queries PATH/queries.jsonl --limit 2000 \
        --out-of-scope bench/data/chit-chat.jsonl

(a bench that counts with bench/quality.py's Tally: public_quality.py, not select_quality.py).

Printed: the out-of-scope requests the gate lets through with their lead, then for each
margin m, refusing a request whose lead is over m (alone, and only when no tool is lexically
about it): in-scope requests newly refused (how many of them were decided right) and
out-of-scope requests refused. The run's own decisions stand for every other rule.

`--without-everyday` runs the bench without the everyday-neighbourhood test (gate.everyday)
and replays it instead, for each number of neighbours k and share of generic requests among
them (the gate's own: halfway from a random neighbourhood's share to all; or a fixed share),
on the requests nearer to a generic request than to any tool, or nearer to a tool by at most
the catalog's allowance (lead > -Calibration.everyday_allowance).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from wrapped import add_bench_arguments, run_bench_then

from toolcatalog.selection import calibrate, candidates, gate

MARGINS = (0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.0)
NEIGHBOURS = (10, 15, 20)
SHARES = (None, 0.6, 0.7, 0.8)  # None: the gate's, halfway from a random neighbourhood's


@dataclass(frozen=True)
class Seen:
    query: str
    in_scope: bool
    decided: bool
    right: bool
    lead: float | None  # best generic cosine less the best tool cosine
    lexical: bool  # some pooled tool is lexically about the request
    generic: tuple[bool, ...] = ()  # of its nearest neighbours, which are generic requests
    prior: float = 0.0  # the generic requests' share of generic requests and tools
    allowance: float = 0.0  # Calibration.everyday_allowance


class Leads:
    def __init__(self, everyday: bool) -> None:
        self.last: tuple[float | None, bool, tuple[bool, ...], float, float] | None = None
        self.seen: list[Seen] = []
        self.everyday = everyday  # replay the everyday-neighbourhood test

    def report(self) -> None:
        out = [s for s in self.seen if not s.in_scope]
        inside = [s for s in self.seen if s.in_scope and s.decided and s.lead is not None]
        print(f"\n{len(self.seen) - len(out)} in scope, {len(out)} out of scope")
        for s in out:
            if s.decided:
                lead = "none" if s.lead is None else f"{s.lead:+.3f}"
                print(f"  answered: lead {lead} lexical {int(s.lexical)} | {s.query}")
        for margin in MARGINS:
            for lexical in (False, True):

                def refused(s: Seen, m: float = margin, need: bool = lexical) -> bool:
                    return s.lead is not None and s.lead > m and not (need and s.lexical)

                newly = [s for s in inside if refused(s)]
                kept = sum(1 for s in out if not s.decided or (s.decided and refused(s)))
                rule = "and no lexical match" if lexical else ""
                print(
                    f"  lead > {margin:.2f} {rule:21} in scope newly refused {len(newly):3d} "
                    f"({sum(s.right for s in newly)} right), out of scope refused {kept}/{len(out)}"
                )
        if self.everyday:
            self.report_everyday(out, inside)

    def report_everyday(self, out: list[Seen], inside: list[Seen]) -> None:
        for k in NEIGHBOURS:
            for share in SHARES:

                def refused(s: Seen, k: int = k, share: float | None = share) -> bool:
                    if s.lead is None or s.lead <= -s.allowance or len(s.generic) < k:
                        return False
                    want = (1.0 + s.prior) / 2.0 if share is None else share
                    return sum(s.generic[:k]) >= math.ceil(want * k - 1e-9)

                newly = [s for s in inside if refused(s)]
                kept = sum(1 for s in out if not s.decided or refused(s))
                rule = "halfway" if share is None else f"{share:.1f}"
                print(
                    f"  nearest {k:2d}, generic share {rule:7} in scope newly refused "
                    f"{len(newly):3d} ({sum(s.right for s in newly)} right), "
                    f"out of scope refused {kept}/{len(out)}"
                )


def neighbourhood(pool: Any) -> tuple[tuple[bool, ...], float]:
    """Which of the request's max(NEIGHBOURS) nearest neighbours (generic requests and tools,
    each tool by its best cosine) are generic requests, and the generic requests' share."""
    nearest, tools, calibration = pool.generic_nearest, pool.tool_cosine, pool.calibration
    if nearest is None or tools is None or calibration is None or calibration.neighbours is None:
        return (), 0.0
    count = max(NEIGHBOURS)
    top = np.sort(tools)[::-1][:count]
    both = np.concatenate([nearest[:count], top])
    generic = np.r_[np.ones(min(count, len(nearest)), bool), np.zeros(len(top), bool)]
    order = np.argsort(-both, kind="stable")[:count]
    negatives = len(calibration.neighbours)
    return tuple(bool(g) for g in generic[order]), negatives / (negatives + len(tools))


def install(leads: Leads) -> None:
    """Patches the gate (to keep each select's lead) and Tally.add (to pair it with the
    result and the right tools); with leads.everyday, turns the everyday test off."""
    judge = gate.gate
    import quality  # bench/quality.py, on the path of the bench being run

    if leads.everyday:
        # The gate reads its own EVERYDAY_NEIGHBOURS; the calibration hands on more neighbours.
        setattr(calibrate, "EVERYDAY_NEIGHBOURS", max(NEIGHBOURS))  # noqa: B010
        setattr(gate, "everyday", lambda _pool: False)  # noqa: B010
        setattr(candidates, "everyday", lambda _pool: False)  # noqa: B010

    def recorded(
        pool: Any, best_allowed: float | None, everyday_talk: bool | None = None
    ) -> gate.Verdict:
        verdict = judge(pool, best_allowed, everyday_talk)
        mass, order = pool.retrieval.mass, pool.order
        raw = pool.raw[order]
        strength = raw / mass if mass > 0 else np.zeros_like(raw)
        about = gate.about_request(pool.coverage[order], pool.matches[order], strength)
        if pool.vouched is not None:
            about = about | pool.vouched[order]
        generic, best = pool.generic_cosine, pool.semantic_best
        lead = None if generic is None or best is None else float(generic - best)
        calibration = pool.calibration
        allowance = 0.0 if calibration is None else calibration.everyday_allowance
        leads.last = (lead, bool(np.any(about)), *neighbourhood(pool), allowance)
        return verdict

    add = quality.Tally.add

    def counted(self: Any, query: str, result: Any, right: set[str]) -> bool:
        lead, lexical, generic, prior, allowance = leads.last or (None, False, (), 0.0, 0.0)
        leads.last = None
        decision = result.decision
        leads.seen.append(
            Seen(
                query,
                bool(right),
                decision is not None,
                decision is not None and decision.tool in right,
                lead,
                lexical,
                generic,
                prior,
                allowance,
            )
        )
        return bool(add(self, query, result, right))

    setattr(candidates, "gate", recorded)  # noqa: B010
    setattr(quality.Tally, "add", counted)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--without-everyday",
        action="store_true",
        help="run without the everyday-neighbourhood test and replay it",
    )
    add_bench_arguments(parser)
    args = parser.parse_args()
    leads = Leads(args.without_everyday)
    install(leads)
    run_bench_then(leads.report, args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
