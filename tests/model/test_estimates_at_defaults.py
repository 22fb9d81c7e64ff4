"""A pattern's estimates at its declared input defaults: refused with the full message, the
same each time (outcomes are cached per expression text and the defaults it reads)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from toolcatalog.model.pattern import Pattern


def _pattern(estimate: str, **defaults: Any) -> dict[str, Any]:
    properties = {name: {"type": "number", "default": v} for name, v in defaults.items()}
    return {
        "name": "p",
        "description": "A pattern.",
        "effect": "read",
        "inputs": {"type": "object", "properties": properties},
        "profile": {"time_estimate_ms": estimate},
    }


def _refusal(definition: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Pattern.model_validate(definition)
    return str(caught.value.errors()[0]["msg"])


@pytest.mark.parametrize(
    ("estimate", "defaults", "message"),
    [
        (
            "100 / N",
            {"N": 0},
            "Value error, profile.time_estimate_ms: at the declared input defaults, division by "
            'zero (100 / 0) at column 5 in "100 / N"; guard the divisor, e.g. max(N, 1)',
        ),
        (
            "10 - N",
            {"N": 20},
            "Value error, profile.time_estimate_ms: expression '10 - N' gives -10 at the "
            "declared input defaults; an estimate must be from 0 to 1e+12",
        ),
        (
            "N * 1000000",
            {"N": 1e7},
            "Value error, profile.time_estimate_ms: expression 'N * 1000000' gives 1e+13 at "
            "the declared input defaults; an estimate must be from 0 to 1e+12",
        ),
    ],
)
def test_a_refusal_at_the_defaults_says_what_and_where_every_time(
    estimate: str, defaults: dict[str, float], message: str
) -> None:
    definition = _pattern(estimate, **defaults)
    assert _refusal(definition) == message
    assert _refusal(definition) == message  # the cached outcome, word for word


def test_the_same_text_is_judged_at_each_pattern_own_defaults() -> None:
    assert Pattern.model_validate(_pattern("100 / N", N=4)).estimates_at_defaults[0] == 25.0
    assert "division by zero" in _refusal(_pattern("100 / N", N=0))
    assert Pattern.model_validate(_pattern("100 / N", N=5)).estimates_at_defaults[0] == 20.0


def test_minus_zero_is_not_taken_for_zero() -> None:
    plus = Pattern.model_validate(_pattern("N * 2", N=0.0)).estimates_at_defaults[0]
    minus = Pattern.model_validate(_pattern("N * 2", N=-0.0)).estimates_at_defaults[0]
    assert (math.copysign(1, plus), math.copysign(1, minus)) == (1, -1)
