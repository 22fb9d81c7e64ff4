"""The bounds of numbers and free-form JSON in a definition: refused with where and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.model.limits import (
    MAX_JSON_DEPTH,
    MAX_NUMBER,
    _raise_first_problem,
    _within_limits,
    check_json,
    number_problem,
)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": [1, float("nan")]}, "at a[1]"),
        ({"a": {"b": float("-inf")}}, "at a.b"),
        ({"n": 2**64}, "at n"),
        ([{"x": -(2**63) - 1}], "at [0].x"),
    ],
)
def test_free_json_refuses_what_json_cannot_hold_naming_where(value: Any, where: str) -> None:
    with pytest.raises(ValueError, match=re.escape(where)):
        check_json(value)


def test_free_json_nesting_is_bounded_at_any_depth_without_recursion() -> None:
    deep: Any = 0
    for _ in range(100_000):  # far beyond the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(ValueError, match=f"more than {MAX_JSON_DEPTH} levels"):
        check_json(deep)


def test_an_integer_too_long_to_print_is_described_by_its_size() -> None:
    assert "an integer of about 10000 digits" in str(number_problem(10**10_000))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), MAX_NUMBER * 10, -(10**13)])
def test_numbers_outside_the_bounds_are_refused(value: float) -> None:
    assert "finite" in str(number_problem(value))


json_leaves = st.none() | st.booleans() | st.text(max_size=5) | st.integers(-(2**63), 2**63 - 1)
json_leaves |= st.floats(allow_nan=False, allow_infinity=False)


@given(
    st.recursive(
        json_leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=20,
    )
)
def test_finite_shallow_json_passes_unchanged(value: Any) -> None:
    assert check_json(value) is value


json_any = json_leaves | st.floats() | st.integers()


@given(
    st.recursive(
        json_any,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=30,
    ),
    st.integers(0, 4),
    st.booleans(),
)
def test_the_quick_check_and_the_walk_that_names_the_path_agree(
    value: Any, max_depth: int, numbers: bool
) -> None:
    """check_json decides the common case without paths and walks again only to name one."""
    try:
        _raise_first_problem(value, max_depth, numbers)
        walk_accepts = True
    except ValueError:
        walk_accepts = False
    assert _within_limits(value, max_depth, numbers) is walk_accepts
