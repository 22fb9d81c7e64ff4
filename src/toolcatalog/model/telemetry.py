"""Outcome telemetry: the event an agent reports after running a pattern, and what the
catalog observed per pattern (the typed read model calibration and analytics share).

Durations are summarised as counts per fixed logarithmic bucket, so any set of hourly rollups
adds up and its percentiles are read from the sum: bucket k holds durations in
[2^((k-1)/4), 2^(k/4)) ms (bucket 0: below 1 ms), up to 2^30 ms (12.4 days), over
MAX_DURATION_MS. Within a bucket the quantile is interpolated geometrically; a bucket spans a
factor 2^(1/4) = 1.19, so a percentile read this way is within 10 % of the exact one.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from toolcatalog.model.fields import SNAKE_RE, TOOL_NAME_RE

# An execution longer than a week is a clock slip or a stuck job, not a duration to learn.
MAX_DURATION_MS = 7 * 24 * 3600 * 1000.0
MAX_COST = 1e12
# Bucket upper bounds in ms: 1, 2^(1/4), ..., 2^30 (121 buckets) plus the first, below 1 ms.
DURATION_BOUNDS_MS: tuple[float, ...] = tuple(2.0 ** (k / 4) for k in range(121))
BUCKETS = len(DURATION_BOUNDS_MS)
ERROR_CLASS_RE = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
SELECTION_ID_RE = r"^[A-Za-z0-9_-]{1,64}$"
ENVIRONMENT_RE = r"^[a-z][a-z0-9_]{0,63}$"


class TelemetryEvent(BaseModel):
    """What happened when an agent ran one pattern. Names must name a pattern of the catalog
    (checked by the service, not here); `at` defaults to the time the event was received."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    tool: Annotated[str, Field(pattern=TOOL_NAME_RE, max_length=64)]
    capability: Annotated[str, Field(pattern=SNAKE_RE, max_length=64)]
    pattern: Annotated[str, Field(pattern=SNAKE_RE, max_length=64)]
    duration_ms: Annotated[float, Field(ge=0, le=MAX_DURATION_MS, description="Wall time, ms.")]
    success: bool
    selection_id: Annotated[str, Field(pattern=SELECTION_ID_RE)] | None = Field(
        default=None, description="The selection_id of the selection this run followed."
    )
    cost: Annotated[float, Field(ge=0, le=MAX_COST)] | None = Field(
        default=None, description="Resource units consumed, in the unit of cost_estimate."
    )
    error: Annotated[str, Field(pattern=ERROR_CLASS_RE)] | None = Field(
        default=None,
        description="A short error class such as 'timeout' or 'ssh.auth_failed' (at most 64 "
        "characters: letters, digits, _ . : -), never a message.",
    )
    environment: Annotated[str, Field(pattern=ENVIRONMENT_RE)] | None = Field(
        default=None, description="production, staging, dev or an environment of the catalog."
    )
    at: datetime | None = Field(
        default=None, description="When it ran (ISO 8601 with an offset); default: now."
    )


class PatternKey(NamedTuple):
    tool: str
    capability: str
    pattern: str


@dataclass(frozen=True, slots=True)
class ObservedStats:
    """What the events of one pattern over a window showed. Durations in ms; `cost_mean` is
    None when no event reported a cost. `p50_ms`/`p95_ms` are read from the bucket counts."""

    samples: int
    successes: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cost_mean: float | None
    cost_samples: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.samples if self.samples else 0.0


def bucket_of(duration_ms: float) -> int:
    """The index of the bucket holding `duration_ms` (0 .. BUCKETS-1)."""
    return min(bisect.bisect_right(DURATION_BOUNDS_MS, duration_ms), BUCKETS - 1)


def quantile_ms(q: float, counts: Sequence[int]) -> float:
    """The q-quantile (0 < q <= 1) of the durations counted per bucket; 0.0 without any."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for k, n in enumerate(counts):
        if n and seen + n >= rank:
            low = DURATION_BOUNDS_MS[k - 1] if k > 0 else 0.0
            high = DURATION_BOUNDS_MS[min(k, BUCKETS - 1)]
            share = (rank - seen) / n
            if low == 0.0:
                return high * share
            return low * math.pow(high / low, share)
        seen += n
    return DURATION_BOUNDS_MS[-1]


def add_counts(total: list[int], more: Sequence[int]) -> None:
    """Add bucket counts `more` into `total` in place (either may be the shorter)."""
    if len(more) > len(total):
        total.extend([0] * (len(more) - len(total)))
    for k, n in enumerate(more):
        total[k] += n
