"""Observed figures for the tests of calibrated profiles and rulings, as telemetry reports them
(model.telemetry.ObservedStats)."""

from __future__ import annotations

from toolcatalog.model.telemetry import ObservedStats


def observed_stats(
    samples: int,
    successes: int,
    p50_ms: float,
    p95_ms: float,
    cost_mean: float | None = None,
    cost_samples: int = 0,
) -> ObservedStats:
    """Telemetry's figures for one pattern; the mean duration, which calibration does not
    read, is given the median's value."""
    return ObservedStats(
        samples=samples,
        successes=successes,
        p50_ms=p50_ms,
        p95_ms=p95_ms,
        mean_ms=p50_ms,
        cost_mean=cost_mean,
        cost_samples=cost_samples,
    )
