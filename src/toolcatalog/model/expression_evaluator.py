"""The evaluator of expression trees, and the check that finds constant parts that never evaluate.

Every non-finite result, math domain error, division by zero and too large exponent raises
ExpressionError. `and`/`or` short-circuit. Arithmetic gives float; comparisons and logic bool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import assert_never

from toolcatalog.model.expression_tree import (
    ARITHMETIC,
    COMPARISONS,
    FUNCTIONS,
    MAX_EXPONENT,
    NUMBER_USE,
    Arith,
    Binary,
    Call,
    ExpressionError,
    Literal,
    Logic,
    Name,
    Node,
    Unary,
    Value,
)


def evaluate(node: Node, values: Mapping[str, Value], source: str) -> Value:
    match node:
        case Literal(value):
            return value
        case Name(name):
            return values[name]
        case Arith(first, rest):
            result = _as_number(first, values, source)
            for op, pos, operand in rest:
                result = _apply(op, result, _as_number(operand, values, source), pos, source)
            return result
        case Unary("not", operand):
            return not _as_boolean(operand, values, source)
        case Unary(op, operand):
            number = _as_number(operand, values, source)
            return -number if op == "-" else number
        case Binary("**", base, exponent, pos):
            number, power = _as_number(base, values, source), _as_number(exponent, values, source)
            if abs(power) > MAX_EXPONENT:
                hint = f"keep exponents between -{MAX_EXPONENT:g} and {MAX_EXPONENT:g}"
                raise ExpressionError(f"exponent {power:g} is too large", source, pos, hint)
            return _apply("**", number, power, pos, source)
        case Binary(op, left, right, pos):
            a, b = evaluate(left, values, source), evaluate(right, values, source)
            if isinstance(a, bool) is not isinstance(b, bool):
                raise ExpressionError(f"{op!r} compares a number with true/false", source, pos)
            if isinstance(a, bool) and op not in ("==", "!="):
                raise ExpressionError(f"{op!r} needs numbers, not true/false", source, pos)
            return COMPARISONS[op](a, b)
        case Call(function, args, pos):
            return _call(function, [_as_number(arg, values, source) for arg in args], pos, source)
        case Logic(op, operands):
            stop = op == "or"  # the value at which `or` (True) or `and` (False) stops early
            for operand in operands:
                if _as_boolean(operand, values, source) is stop:
                    return stop
            return not stop
    assert_never(node)


def _as_number(node: Node, values: Mapping[str, Value], source: str) -> float:
    value = evaluate(node, values, source)
    if isinstance(value, bool):
        pos = node.pos if isinstance(node, Name) else None
        raise ExpressionError("true/false used as a number", source, pos, NUMBER_USE)
    return value


def _as_boolean(node: Node, values: Mapping[str, Value], source: str) -> bool:
    value = evaluate(node, values, source)
    if not isinstance(value, bool):
        pos = node.pos if isinstance(node, Name) else None
        raise ExpressionError("number used as true/false", source, pos, NUMBER_USE)
    return value


def _apply(op: str, a: float, b: float, pos: int, source: str) -> float:
    try:
        result = ARITHMETIC[op](a, b)
    except ZeroDivisionError:
        hint = "guard the divisor, e.g. max(N, 1)"
        raise ExpressionError(f"division by zero ({a:g} {op} {b:g})", source, pos, hint) from None
    except OverflowError:
        raise ExpressionError(f"{a:g} {op} {b:g} is too large", source, pos) from None
    except ValueError:  # math.pow: 0 ** -1, or a negative base with a fractional exponent
        hint = "a negative base needs a whole exponent, and 0 a positive one"
        raise ExpressionError(f"{a:g} ** {b:g} is undefined", source, pos, hint) from None
    return _finite(result, source, pos)


def _call(function: str, args: list[float], pos: int, source: str) -> float:
    shown = f"{function}({', '.join(f'{a:g}' for a in args)})"
    _, _, implementation, domain = FUNCTIONS[function]
    try:
        result = float(implementation(*args))
    except OverflowError:
        raise ExpressionError(f"{shown} is too large", source, pos) from None
    except (ValueError, ZeroDivisionError):  # ZeroDivisionError: log(x, 1)
        raise ExpressionError(f"{shown} is undefined", source, pos, domain) from None
    return _finite(result, source, pos)


def _finite(value: float, source: str, pos: int) -> float:
    if not math.isfinite(value):
        raise ExpressionError("result is too large to be a finite number", source, pos)
    return value


def _constant(node: Node, source: str) -> Value | None:
    """The value of `node` when it uses no input (evaluation errors raise), else None."""
    if _uses_inputs(node):
        return None
    return evaluate(node, {}, source)


def _uses_inputs(node: Node) -> bool:
    return any(isinstance(n, Name) for n in _walk(node))


def _walk(node: Node) -> list[Node]:
    """Every node of the tree (iteratively; depth is already bounded by the parser)."""
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(_children(current))
    return out


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Literal() | Name():
            return ()
        case Unary(_, operand):
            return (operand,)
        case Arith(first, rest):
            return (first, *(operand for _, _, operand in rest))
        case Binary(_, left, right):
            return (left, right)
        case Call(_, args) | Logic(_, args):
            return args
    assert_never(node)


def check_constants(node: Node, source: str) -> None:
    if _constant(node, source) is not None:
        return  # evaluated whole without error
    match node:
        case Arith(_, rest):
            for op, pos, operand in rest:
                if op in ("/", "//", "%") and _constant(operand, source) == 0:
                    hint = "guard the divisor, e.g. max(N, 1)"
                    raise ExpressionError(f"division by zero ('{op}' 0)", source, pos, hint)
        case Binary("**", _, exponent, pos):
            power = _constant(exponent, source)
            if isinstance(power, float) and abs(power) > MAX_EXPONENT:
                hint = f"keep exponents between -{MAX_EXPONENT:g} and {MAX_EXPONENT:g}"
                raise ExpressionError(f"exponent {power:g} is too large", source, pos, hint)
    for child in _children(node):
        check_constants(child, source)
