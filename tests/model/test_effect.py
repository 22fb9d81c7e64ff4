"""A pattern's effect: declared, or read from its policy when a definition predates effects."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from toolcatalog.model.pattern import Pattern
from toolcatalog.model.profile import Effect


def _pattern(**fields: Any) -> Pattern:
    return Pattern.model_validate({"name": "p", "description": "A pattern.", **fields})


@pytest.mark.parametrize("effect", ["read", "change", "destructive"])
def test_a_declared_effect_is_kept(effect: str) -> None:
    assert _pattern(effect=effect).effect == effect


def test_an_unknown_effect_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="'read', 'change' or 'destructive'"):
        _pattern(effect="maybe")


@pytest.mark.parametrize(
    ("policy", "effect"),
    [
        ({"production_safe": True}, Effect.read),
        ({"production_safe": True, "requires_approval": True}, Effect.change),
        ({"production_safe": False}, Effect.change),
        ({}, Effect.change),
        (None, Effect.change),
    ],
)
def test_an_undeclared_effect_is_read_from_the_policy_conservatively(
    policy: dict[str, Any] | None, effect: Effect
) -> None:
    fields = {} if policy is None else {"policy": policy}
    assert _pattern(**fields).effect is effect


def test_the_effect_survives_a_dump_and_load() -> None:
    pattern = _pattern(effect="change", policy={"production_safe": True})
    dumped = pattern.model_dump(mode="json", exclude_defaults=True)
    assert Pattern.model_validate(dumped) == pattern
