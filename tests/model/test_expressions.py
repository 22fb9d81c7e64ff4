"""The language's public face: evaluate_number, and random trees checked against Python."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolcatalog.model.expressions import (
    ExpressionError,
    evaluate_number,
    parse_expression,
)

# --- evaluate_number -----------------------------------------------------------------------------


def test_evaluate_number_passes_numbers_through_as_float() -> None:
    assert evaluate_number(5, None) == 5.0
    assert type(evaluate_number(5, None)) is float
    assert evaluate_number(2.5, {"N": 1}) == 2.5


def test_evaluate_number_parses_and_evaluates_strings() -> None:
    assert evaluate_number("200 + 5 * N", {"N": 2}) == 210.0


@pytest.mark.parametrize("value", ["N > 1", "true", True, float("nan"), float("inf"), "1 / 0"])
def test_evaluate_number_refuses_booleans_and_non_finite_values(value: float | str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_number(value, {"N": 2})


# --- properties ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class Bin:
    op: str
    left: Tree
    right: Tree


@dataclass(frozen=True)
class Un:
    op: str
    operand: Tree


@dataclass(frozen=True)
class Paren:
    inner: Tree


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Tree, ...]


@dataclass(frozen=True)
class Logic:
    op: str  # and, or, not (right is None), or a comparison
    left: Tree
    right: Tree | None


Tree = Num | Bin | Un | Paren | Call | Logic

# Python's binding levels, loosest first; an operand below what its slot needs gets parentheses.
OR, AND, NOT, COMPARISON, SUM, TERM, UNARY, POWER, ATOM = range(-3, 6)
# operator: (its own level, what its left operand needs, what its right operand needs)
SLOTS = {"**": (POWER, ATOM, UNARY), "and": (AND, AND, NOT), "or": (OR, OR, AND)}
SLOTS |= dict.fromkeys(["+", "-"], (SUM, SUM, TERM))
SLOTS |= dict.fromkeys(["*", "/", "//", "%"], (TERM, TERM, UNARY))
SLOTS |= dict.fromkeys(["<", "<=", ">", ">=", "==", "!="], (COMPARISON, SUM, SUM))


def render(tree: Tree) -> tuple[str, int]:
    """Source text for `tree` with only the parentheses Python needs, and its binding level."""

    def slot(child: Tree, needs: int) -> str:
        text, level = render(child)
        return text if level >= needs else f"({text})"

    match tree:
        case Num(value):
            return str(value), ATOM if value >= 0 else UNARY  # Python reads -3 as unary minus
        case Paren(inner):
            return f"({render(inner)[0]})", ATOM
        case Call(function, args):
            return f"{function}({', '.join(render(arg)[0] for arg in args)})", ATOM
        case Un(op, operand):
            return f"{op}{slot(operand, UNARY)}", UNARY
        case Logic("not", operand, None):
            return f"not {slot(operand, NOT)}", NOT
        case Bin(op, left, right) | Logic(op, left, right) if right is not None:
            level, left_needs, right_needs = SLOTS[op]
            return f"{slot(left, left_needs)} {op} {slot(right, right_needs)}", level
    raise AssertionError(tree)


class Refused(Exception):
    """Python raises here (or gives a complex number): the language must raise ExpressionError."""


class Inexact(Exception):
    """An intermediate value beyond 2**50, where exact ints and floats may part ways: skip it."""


# Python's own operators and builtins: the reference meaning of the rendered text.
PYTHON: dict[str, Callable[..., Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "abs": abs,
    "min": min,
    "max": max,
}


def reference(tree: Tree) -> Any:
    """What Python makes of the rendered text, computed over the tree (never with eval)."""
    match tree:
        case Num(value):
            return value
        case Paren(inner):
            return reference(inner)
        case Call(function, args):
            return PYTHON[function](*(reference(arg) for arg in args))
        case Un(op, operand):
            number = reference(operand)
            return -number if op == "-" else +number
        case Logic("not", operand, None):
            return not reference(operand)
        case Logic("and", left, right) if right is not None:
            return reference(left) and reference(right)
        case Logic("or", left, right) if right is not None:
            return reference(left) or reference(right)
        case Logic(op, left, right) if right is not None:
            return PYTHON[op](reference(left), reference(right))
        case Bin(op, left, right):
            return checked(op, reference(left), reference(right))
    raise AssertionError(tree)


def checked(op: str, a: Any, b: Any) -> Any:
    if op == "**" and abs(b) > 100:
        raise Refused
    try:
        result = PYTHON[op](a, b)
    except ZeroDivisionError:
        raise Refused from None
    except OverflowError:
        raise Inexact from None
    if isinstance(result, complex):
        raise Refused
    if abs(result) > 2**50:
        raise Inexact
    return result


def arithmetic(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    ops = st.sampled_from(["+", "-", "*", "/", "//", "%", "**"])
    return st.one_of(
        st.builds(Bin, ops, children, children),
        st.builds(Un, st.sampled_from(["-", "+"]), children),
        st.builds(Paren, children),
        st.builds(Call, st.just("abs"), st.tuples(children)),
        st.builds(
            Call,
            st.sampled_from(["min", "max"]),
            st.lists(children, min_size=2, max_size=3).map(tuple),
        ),
    )


def conditions(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return st.one_of(
        st.builds(Logic, st.sampled_from(["and", "or"]), children, children),
        st.builds(Logic, st.just("not"), children, st.none()),
        st.builds(Paren, children),
    )


numbers: st.SearchStrategy[Tree] = st.recursive(
    st.builds(Num, st.integers(-9, 9)), arithmetic, max_leaves=10
)
comparisons = st.builds(
    Logic, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers, numbers
)
booleans: st.SearchStrategy[Tree] = st.recursive(comparisons, conditions, max_leaves=4)


def check_against_python(tree: Tree) -> None:
    text = render(tree)[0]
    try:
        expected = reference(tree)
    except Inexact:
        assume(False)
    except Refused:
        with pytest.raises(ExpressionError):
            parse_expression(text).evaluate()
        return
    result = parse_expression(text).evaluate()
    assert type(result) is type(expected) or not isinstance(result, bool), text
    if isinstance(expected, bool):
        assert result is expected, text
    else:
        assert math.isclose(result, expected, rel_tol=1e-12, abs_tol=1e-12), text


@settings(max_examples=300)
@given(numbers)
def test_random_arithmetic_agrees_with_python(tree: Tree) -> None:
    check_against_python(tree)


@settings(max_examples=300)
@given(booleans)
def test_random_conditions_agree_with_python(tree: Tree) -> None:
    check_against_python(tree)


TOKENS = [
    "1", "0", "2.5", "1e3", "N", "M", "true", "false", "(", ")", ",", "+", "-", "*", "/", "//",
    "%", "**", "<", "<=", "==", "!=", "and", "or", "not", "max", "min", "log", "sqrt", "exp", "abs",
]  # fmt: skip


@given(
    st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TOKENS), max_size=15).map(" ".join)),
    st.data(),
)
def test_random_text_raises_nothing_but_expression_error(text: str, data: st.DataObject) -> None:
    try:
        expression = parse_expression(text)
    except ExpressionError:
        return
    values = st.one_of(st.integers(-3, 3), st.floats(), st.booleans())
    env = {name: data.draw(values) for name in sorted(expression.names)}
    try:
        result = expression.evaluate(env)
    except ExpressionError:
        return
    assert isinstance(result, bool) or math.isfinite(result)
