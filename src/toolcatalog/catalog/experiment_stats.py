"""The statistics of an experiment's report: 95 % intervals and two-sided tests, by normal
approximations that need nothing beyond the standard library.

- a rate (acceptance, success): Wilson score interval; two rates compared by the pooled
  two-proportion z-test;
- a median duration: the distribution-free interval between the order statistics
  n/2 -+ 0.98 sqrt(n) (exact coverage ~95 % from about n = 10); two variants' durations
  compared by the Mann-Whitney U test (normal approximation, ties given mid-ranks).
A test needs MIN_SAMPLES on each side; otherwise its p-value is None ("not enough data").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959964
ALPHA = 0.05
MIN_SAMPLES = 10


def _two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """The 95 % Wilson interval of successes / n; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1.0 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportions(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value that k1/n1 and k2/n2 differ (pooled z-test)."""
    if min(n1, n2) < MIN_SAMPLES:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return _two_sided((k1 / n1 - k2 / n2) / se)


def median_interval(ordered: Sequence[float]) -> tuple[float, float, float] | None:
    """(median, low, high) of sorted values, the interval at ~95 %; None without values."""
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    reach = Z95 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - reach))
    high = min(n - 1, math.ceil(n / 2 + reach) - 1)
    return median, ordered[low], ordered[high]


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value that the values of `a` and `b` come from one distribution."""
    n1, n2 = len(a), len(b)
    if min(n1, n2) < MIN_SAMPLES:
        return None
    merged = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    rank_sum = 0.0
    ties = 0.0
    i = 0
    while i < len(merged):
        j = i
        while j + 1 < len(merged) and merged[j + 1][0] == merged[i][0]:
            j += 1
        mid_rank = (i + j) / 2 + 1
        count = j - i + 1
        ties += count**3 - count
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if merged[k][1] == 0)
        i = j + 1
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    return _two_sided((u - n1 * n2 / 2) / math.sqrt(variance))
