"""The expression language's tree, its limits, its operators and functions, and its one error.

The parser (`expression_parser.py`) builds these frozen dataclasses; the evaluator
(`expression_evaluator.py`) walks them; `expressions.py` holds the `Expression` that joins both.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

MAX_SOURCE_LENGTH = 1000
MAX_DEPTH = 32
MAX_EXPONENT = 100.0

Value: TypeAlias = float | bool
Inputs: TypeAlias = Mapping[str, float | int | bool]


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; says what, where (offset), how to fix."""

    def __init__(
        self, problem: str, source: str, offset: int | None = None, hint: str = ""
    ) -> None:
        self.problem, self.source, self.offset, self.hint = problem, source, offset, hint
        where = "" if offset is None else f" at column {offset + 1}"
        shown = source if len(source) <= 80 else source[:77] + "..."
        super().__init__(f'{problem}{where} in "{shown}"' + (f"; {hint}" if hint else ""))

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, str, int | None, str]]:
        # The default rebuilds from the message alone, which this __init__ cannot take.
        return type(self), (self.problem, self.source, self.offset, self.hint)


# The tree. `pos` is the 0-based offset an evaluation error points at (the operator, name or call).
@dataclass(frozen=True, slots=True)
class Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # -, + or not
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Arith:
    """A left-associative run `a + b - c` kept flat, so a long sum does not deepen the recursion."""

    first: Node
    rest: tuple[tuple[str, int, Node], ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # ** or a comparison
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Logic:
    op: str
    operands: tuple[Node, ...]


Node: TypeAlias = Literal | Name | Unary | Arith | Binary | Call | Logic


def gives_boolean(node: Node) -> bool | None:
    """True or False when the kind of result is known without inputs; None for a bare input name."""
    if isinstance(node, Name):
        return None
    if isinstance(node, Literal):
        return isinstance(node.value, bool)
    if isinstance(node, Unary | Binary):
        return node.op in COMPARISONS or node.op == "not"
    return isinstance(node, Logic)


_POSITIVE = "it needs a positive number"
# name: (fewest arguments, most or None, function, hint when the arguments are out of its domain)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., float], str]] = {
    "abs": (1, 1, abs, ""),
    "ceil": (1, 1, math.ceil, ""),
    "exp": (1, 1, math.exp, ""),
    "floor": (1, 1, math.floor, ""),
    "log": (1, 2, math.log, f"{_POSITIVE}, and a positive base other than 1"),
    "log10": (1, 1, math.log10, _POSITIVE),
    "log2": (1, 1, math.log2, _POSITIVE),
    "max": (2, None, max, ""),
    "min": (2, None, min, ""),
    "sqrt": (1, 1, math.sqrt, "it needs a number >= 0"),
}
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    # math.pow, not **: a negative base with a fractional exponent must fail, not become complex.
    "**": math.pow,
}
COMPARISONS: dict[str, Callable[[Value, Value], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
NUMBER_USE = "numbers and true/false do not mix; compare numbers first, e.g. 'N > 0'"
