"""PostgreSQL's ts_rank with the default weights and normalisation (tsrank.c), for a search
text without weights (all D): each step rounded to a float4 as PostgreSQL stores it, so the
in-memory ranks (search_index.py, term_codes.py) are the database's to the bit."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from functools import lru_cache

# ts_rank's default weight of a lexeme of weight D (the `search` column sets none): 0.1 as a
# float4, as PostgreSQL multiplies it.
_FLOAT4 = struct.Struct("f")
_W = _FLOAT4.unpack(_FLOAT4.pack(0.1))[0]
MAXENTRYPOS = 1 << 14


def _f32(x: float) -> float:
    """`x` rounded to a float4, as PostgreSQL's ranking stores each step."""
    return float(_FLOAT4.unpack(_FLOAT4.pack(x))[0])


@lru_cache(maxsize=512)
def term_weight(occurrences: int) -> float:
    """calc_rank_or's share of one lexeme occurring `occurrences` times (all weight D)."""
    resj = 0.0
    for j in range(occurrences):
        resj = _f32(resj + _f32(_W / ((j + 1) * (j + 1))))
    return _f32(_f32(_W + resj) - _W) / 1.64493406685


@lru_cache(maxsize=4096)
def pair_weight(distance: int) -> float:
    """calc_rank_and's weight of two query lexemes `distance` positions apart."""
    if distance > 100:
        word_distance = 1e-30
    else:
        word_distance = _f32(1.0 / (1.005 + 0.05 * math.exp(_f32(distance) / 1.5 - 2)))
    return _f32(math.sqrt(_f32(_f32(_W * _W) * _f32(word_distance))))


def rank_or(items: list[str], counts: Iterable[int]) -> float:
    """calc_rank_or's answer, from how often each query lexeme occurs."""
    res = 0.0
    for count in counts:
        if count:
            res = _f32(res + term_weight(count))
    return _f32(res / len(items))


@lru_cache(maxsize=65536)
def rank_and(positions: tuple[tuple[int, ...], ...]) -> float:
    """calc_rank_and over the positions of each query lexeme (in the query's order)."""
    res = -1.0
    for i, here in enumerate(positions):
        if not here:
            continue
        for there in positions[:i]:
            if not there:
                continue
            for p in here:
                for q in there:
                    dist = abs(p - q)
                    if dist:
                        curw = pair_weight(dist)
                        res = curw if res < 0 else _f32(1.0 - (1.0 - res) * (1.0 - curw))
    return res if res >= 0 else _f32(1e-20)
