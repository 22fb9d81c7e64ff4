"""The safe expression language of tool profiles: `200 + 5 * N`, `files > 100000 and depth >= 3`.

A tokenizer and a recursive-descent parser (`expression_parser.py`) build a tree of frozen
dataclasses (`expression_tree.py`) that an evaluator (`expression_evaluator.py`) walks; nothing
calls eval, compile or ast. This module is the public face: `parse_expression`, `Expression`,
`evaluate_number`.

Choices: chained comparisons (`0 < N < 9`) are refused, as `a == b == c` is more often a slip than
meant; write `0 < N and N < 9`. `min` and `max` need two or more arguments (`max(N)` has lost its
bound). Numbers and true/false never mix: checked at parse time for literals and operators, at
evaluation for inputs. `and`/`or` short-circuit. Arithmetic gives float; comparisons and logic bool.
Guards: source length, nesting depth, exponent size, every non-finite result, math domain errors and
division by zero raise ExpressionError, a ValueError so pydantic reports it as a validation error.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from functools import lru_cache

from toolcatalog.model.expression_evaluator import check_constants, evaluate
from toolcatalog.model.expression_parser import Parser
from toolcatalog.model.expression_tree import (
    MAX_SOURCE_LENGTH,
    ExpressionError,
    Inputs,
    Node,
    Value,
    gives_boolean,
)

# The public face: ExpressionError is defined with the tree but raised to users from here.
__all__ = ["Expression", "ExpressionError", "evaluate_number", "parse_expression"]


@dataclass(frozen=True)
class Expression:
    """A parsed expression, evaluated against named inputs; equal when the source text is."""

    source: str
    names: frozenset[str]
    _tree: Node = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.source

    def is_boolean(self) -> bool:
        return bool(gives_boolean(self._tree))

    def check_constants(self) -> None:
        """Raise ExpressionError when a part without inputs can never evaluate: `2**99999`,
        `1/0`, `N / (2 - 2)`, `N ** 1000`. Run at import, so such a profile is refused with
        its path instead of failing every selection that reaches it."""
        if (problem := _constants_problem(self)) is not None:
            raise problem

    def evaluate(self, env: Inputs | None = None) -> float | bool:
        """A float for arithmetic, a bool for conditions; raises ExpressionError."""
        given: Inputs = env or {}
        if missing := sorted(self.names - given.keys()):
            known = ", ".join(sorted(given)) or "none were given"
            plural = "s" if len(missing) > 1 else ""
            problem = f"unknown input{plural} {', '.join(map(repr, missing))}"
            raise ExpressionError(problem, self.source, hint=f"known inputs: {known}")
        values = {name: _input(name, given[name], self.source) for name in self.names}
        return evaluate(self._tree, values, self.source)


@lru_cache(maxsize=4096)
def _constants_problem(expression: Expression) -> ExpressionError | None:
    try:
        check_constants(expression._tree, expression.source)
    except ExpressionError as exc:
        return exc
    return None


def _input(name: str, value: object, source: str) -> Value:
    if isinstance(value, bool):
        return value
    if (number := _finite_float(value)) is None:
        problem = f"input {name!r} must be a finite number or true/false, not {reprlib.repr(value)}"
        raise ExpressionError(problem, source)
    return number


def _finite_float(value: object) -> float | None:
    """`value` as a finite float, or None (true/false is not a number here, nor is nan)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond 1.8e308
        return None
    return number if math.isfinite(number) else None


def parse_expression(source: str) -> Expression:
    """The parsed `source`, cached (profiles repeat a few strings); raises ExpressionError."""
    if not isinstance(source, str):
        raise ExpressionError(f"expected an expression string, not {type(source).__name__}", "")
    if len(source) > MAX_SOURCE_LENGTH:
        problem = f"expression is {len(source)} characters long, more than {MAX_SOURCE_LENGTH}"
        raise ExpressionError(problem, source, hint="simplify it")
    return _parse_cached(source)


@lru_cache(maxsize=4096)
def _parse_cached(source: str) -> Expression:
    parser = Parser(source)
    tree = parser.parse()
    return Expression(source, frozenset(parser.names), tree)


def evaluate_number(value: float | int | str, env: Inputs | None = None) -> float:
    """A number as a float, or a string parsed and evaluated; true/false is an ExpressionError."""
    if isinstance(value, str):
        result = parse_expression(value).evaluate(env)
        if isinstance(result, bool):
            raise ExpressionError("expected a number, but this gives true/false", value)
        return result
    if (number := _finite_float(value)) is None:
        problem = f"expected a finite number or an expression string, not {reprlib.repr(value)}"
        raise ExpressionError(problem, reprlib.repr(value))
    return number
