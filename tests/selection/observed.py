"""Observed figures in telemetry's shape, for the tests of calibrated profiles and rulings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    """Observed figures in telemetry's shape (model.telemetry.ObservedStats)."""

    samples: int
    successes: int
    p50_ms: float
    p95_ms: float
    cost_mean: float | None = None
    cost_samples: int = 0

    @property
    def success_rate(self) -> float:
        return self.successes / self.samples
