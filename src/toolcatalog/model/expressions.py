"""The safe expression language of tool profiles: `200 + 5 * N`, `files > 100000 and depth >= 3`.

A tokenizer and a recursive-descent parser build a tree of frozen dataclasses that an evaluator
walks; nothing here calls eval, compile or ast. Grammar, loosest first, with Python's precedence:

    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom ["**" unary]                 right-associative; -2**2 == -4, 2**-1 == 0.5
    atom       := NUMBER | NAME | "true" | "false" | FUNCTION "(" or ("," or)* ")" | "(" or ")"

Choices: chained comparisons (`0 < N < 9`) are refused, as `a == b == c` is more often a slip than
meant; write `0 < N and N < 9`. `min` and `max` need two or more arguments (`max(N)` has lost its
bound). Numbers and true/false never mix: checked at parse time for literals and operators, at
evaluation for inputs. `and`/`or` short-circuit. Arithmetic gives float; comparisons and logic bool.
Guards: source length, nesting depth, exponent size, every non-finite result, math domain errors and
division by zero raise ExpressionError, a ValueError so pydantic reports it as a validation error.
"""

from __future__ import annotations

import keyword
import math
import operator
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple, TypeAlias, assert_never

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
class _Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str  # -, + or not
    operand: _Node
    pos: int


@dataclass(frozen=True, slots=True)
class _Arith:
    """A left-associative run `a + b - c` kept flat, so a long sum does not deepen the recursion."""

    first: _Node
    rest: tuple[tuple[str, int, _Node], ...]


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str  # ** or a comparison
    left: _Node
    right: _Node
    pos: int


@dataclass(frozen=True, slots=True)
class _Call:
    function: str
    args: tuple[_Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str
    operands: tuple[_Node, ...]


_Node: TypeAlias = _Literal | _Name | _Unary | _Arith | _Binary | _Call | _Logic


def _gives_boolean(node: _Node) -> bool | None:
    """True or False when the kind of result is known without inputs; None for a bare input name."""
    if isinstance(node, _Name):
        return None
    if isinstance(node, _Literal):
        return isinstance(node.value, bool)
    if isinstance(node, _Unary | _Binary):
        return node.op in _COMPARISONS or node.op == "not"
    return isinstance(node, _Logic)


_POSITIVE = "it needs a positive number"
# name: (fewest arguments, most or None, function, hint when the arguments are out of its domain)
_FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., float], str]] = {
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
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    # math.pow, not **: a negative base with a fractional exponent must fail, not become complex.
    "**": math.pow,
}
_COMPARISONS: dict[str, Callable[[Value, Value], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|//|<=|>=|==|!=|[-+*/%<>(),])"
)
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]+")
_NOT_SUPPORTED = {
    char: hint
    for chars, hint in [
        ("'\"", "strings are not supported"),
        (".", "attribute access is not supported"),
        ("[]", "subscripts are not supported"),
        (":", "lambdas, slices and dictionaries are not supported"),
        (";", "write a single expression"),
        ("=", "use '==' to compare"),
        ("!", "use 'not' to negate or '!=' to compare"),
        ("&|", "use 'and' or 'or'"),
        ("^", "use '**' for powers"),
    ]
    for char in chars
}
_NUMBER_USE = "numbers and true/false do not mix; compare numbers first, e.g. 'N > 0'"


class _Token(NamedTuple):
    kind: str  # number, name, op or end
    text: str
    pos: int


def _tokenize(source: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            char = source[pos]
            hint = _NOT_SUPPORTED.get(char, "")
            raise ExpressionError(f"unexpected character {char!r}", source, pos, hint)
        kind = match.lastgroup or ""
        if kind == "number" and (tail := _NUMBER_TAIL.match(source, match.end())):
            bad = source[pos : tail.end()]
            hint = "numbers look like 12, 0.5 or 1e3; write '2 * N' to multiply"
            raise ExpressionError(f"invalid number {bad!r}", source, pos, hint)
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0
        self.names: set[str] = set()

    def parse(self) -> _Node:
        if len(self.tokens) == 1:
            raise ExpressionError("empty expression", self.source, 0, "write e.g. '200 + 5 * N'")
        node = self._or()
        if (token := self._peek()).kind != "end":
            raise self._unexpected(token, "expected an operator or the end of the expression")
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _at(self, *texts: str) -> _Token | None:
        token = self.tokens[self.index]
        return self._next() if token.kind in ("op", "name") and token.text in texts else None

    def _error(self, problem: str, pos: int, hint: str = "") -> ExpressionError:
        return ExpressionError(problem, self.source, pos, hint)

    def _unexpected(self, token: _Token, hint: str) -> ExpressionError:
        what = "end of input" if token.kind == "end" else repr(token.text)
        return self._error(f"unexpected {what}", token.pos, hint)

    def _nested(self, parse: Callable[[], _Node], pos: int) -> _Node:
        # Bounds the parser's recursion and so the evaluator's: deep trees are abuse, not profiles.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"expression nests over {MAX_DEPTH} levels deep", pos, "simplify it")
        try:
            return parse()
        finally:
            self.depth -= 1

    def _number(self, node: _Node, user: str, pos: int) -> _Node:
        if _gives_boolean(node):
            raise self._error(f"{user} needs numbers, not true/false", pos, _NUMBER_USE)
        return node

    def _boolean(self, node: _Node, user: str, pos: int) -> _Node:
        if _gives_boolean(node) is False:
            raise self._error(f"{user!r} needs true/false, not a number", pos, _NUMBER_USE)
        return node

    def _or(self) -> _Node:
        return self._logic("or", self._and)

    def _and(self) -> _Node:
        return self._logic("and", self._not)

    def _logic(self, op: str, operand: Callable[[], _Node]) -> _Node:
        first = operand()
        operands = [first]
        while token := self._at(op):
            if len(operands) == 1:
                self._boolean(first, op, token.pos)
            operands.append(self._boolean(operand(), op, token.pos))
        return first if len(operands) == 1 else _Logic(op, tuple(operands))

    def _not(self) -> _Node:
        if token := self._at("not"):
            operand = self._nested(self._not, token.pos)
            return _Unary("not", self._boolean(operand, "not", token.pos), token.pos)
        return self._comparison()

    def _comparison(self) -> _Node:
        left = self._sum()
        if not (token := self._at(*_COMPARISONS)):
            return left
        right = self._sum()
        if chained := self._at(*_COMPARISONS):
            hint = "write 'a < b and b < c'"
            raise self._error("chained comparisons are not supported", chained.pos, hint)
        if token.text in ("==", "!="):
            kinds = {_gives_boolean(left), _gives_boolean(right)}
            if kinds == {True, False}:
                raise self._error(f"{token.text!r} compares a number with true/false", token.pos)
        else:
            self._number(left, repr(token.text), token.pos)
            self._number(right, repr(token.text), token.pos)
        return _Binary(token.text, left, right, token.pos)

    def _sum(self) -> _Node:
        return self._arith(("+", "-"), self._term)

    def _term(self) -> _Node:
        return self._arith(("*", "/", "//", "%"), self._unary)

    def _arith(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        first = operand()
        rest: list[tuple[str, int, _Node]] = []
        while token := self._at(*ops):
            if not rest:
                self._number(first, repr(token.text), token.pos)
            right = self._number(operand(), repr(token.text), token.pos)
            rest.append((token.text, token.pos, right))
        return _Arith(first, tuple(rest)) if rest else first

    def _unary(self) -> _Node:
        if token := self._at("-", "+"):
            operand = self._nested(self._unary, token.pos)
            return _Unary(token.text, self._number(operand, repr(token.text), token.pos), token.pos)
        return self._power()

    def _power(self) -> _Node:
        base = self._atom()
        if not (token := self._at("**")):
            return base
        exponent = self._nested(self._unary, token.pos)
        self._number(base, "'**'", token.pos)
        return _Binary("**", base, self._number(exponent, "'**'", token.pos), token.pos)

    def _atom(self) -> _Node:
        token = self._next()
        if token.kind == "number":
            if not math.isfinite(value := float(token.text)):
                raise self._error(f"number {token.text} is too large", token.pos)
            return _Literal(value)
        if token.text == "(":
            node = self._nested(self._or, token.pos)
            if not self._at(")"):
                hint = f"expected ')' to close the '(' at column {token.pos + 1}"
                raise self._unexpected(self._peek(), hint)
            return node
        if token.kind != "name" or token.text in ("and", "or", "not"):
            raise self._unexpected(token, "expected a number, an input name or '('")
        if token.text in ("true", "false"):
            return _Literal(token.text == "true")
        if self._peek().text == "(":
            return self._call(token)
        if token.text in _FUNCTIONS:
            hint = f"call it, e.g. {token.text}(N)"
            raise self._error(f"function {token.text!r} used without arguments", token.pos, hint)
        if keyword.iskeyword(token.text):
            hint = "write true or false in lower case" if token.text in ("True", "False") else ""
            raise self._error(f"{token.text!r} is not part of the language", token.pos, hint)
        self.names.add(token.text)
        return _Name(token.text, token.pos)

    def _call(self, name: _Token) -> _Node:
        if name.text not in _FUNCTIONS:
            allowed = f"allowed: {', '.join(sorted(_FUNCTIONS))}"
            raise self._error(f"unknown function {name.text!r}", name.pos, allowed)
        opening = self._next()
        args: list[_Node] = []
        closed = self._at(")") is not None
        while not closed:
            arg = self._nested(self._or, opening.pos)
            args.append(self._number(arg, f"{name.text}()", name.pos))
            closed = self._at(")") is not None
            if not closed and not self._at(","):
                hint = f"expected ',' or ')' to close the '(' at column {opening.pos + 1}"
                raise self._unexpected(self._peek(), hint)
        least, most, _, _ = _FUNCTIONS[name.text]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least} or more" if most is None else f"{least}"
            if most is not None and most != least:
                wanted += f" or {most}"
            problem = f"{name.text}() takes {wanted} arguments, got {len(args)}"
            raise self._error(problem, name.pos)
        return _Call(name.text, tuple(args), name.pos)


def _evaluate(node: _Node, values: Mapping[str, Value], source: str) -> Value:
    match node:
        case _Literal(value):
            return value
        case _Name(name):
            return values[name]
        case _Arith(first, rest):
            result = _as_number(first, values, source)
            for op, pos, operand in rest:
                result = _apply(op, result, _as_number(operand, values, source), pos, source)
            return result
        case _Unary("not", operand):
            return not _as_boolean(operand, values, source)
        case _Unary(op, operand):
            number = _as_number(operand, values, source)
            return -number if op == "-" else number
        case _Binary("**", base, exponent, pos):
            number, power = _as_number(base, values, source), _as_number(exponent, values, source)
            if abs(power) > MAX_EXPONENT:
                hint = f"keep exponents between -{MAX_EXPONENT:g} and {MAX_EXPONENT:g}"
                raise ExpressionError(f"exponent {power:g} is too large", source, pos, hint)
            return _apply("**", number, power, pos, source)
        case _Binary(op, left, right, pos):
            a, b = _evaluate(left, values, source), _evaluate(right, values, source)
            if isinstance(a, bool) is not isinstance(b, bool):
                raise ExpressionError(f"{op!r} compares a number with true/false", source, pos)
            if isinstance(a, bool) and op not in ("==", "!="):
                raise ExpressionError(f"{op!r} needs numbers, not true/false", source, pos)
            return _COMPARISONS[op](a, b)
        case _Call(function, args, pos):
            return _call(function, [_as_number(arg, values, source) for arg in args], pos, source)
        case _Logic(op, operands):
            stop = op == "or"  # the value at which `or` (True) or `and` (False) stops early
            for operand in operands:
                if _as_boolean(operand, values, source) is stop:
                    return stop
            return not stop
    assert_never(node)


def _as_number(node: _Node, values: Mapping[str, Value], source: str) -> float:
    value = _evaluate(node, values, source)
    if isinstance(value, bool):
        pos = node.pos if isinstance(node, _Name) else None
        raise ExpressionError("true/false used as a number", source, pos, _NUMBER_USE)
    return value


def _as_boolean(node: _Node, values: Mapping[str, Value], source: str) -> bool:
    value = _evaluate(node, values, source)
    if not isinstance(value, bool):
        pos = node.pos if isinstance(node, _Name) else None
        raise ExpressionError("number used as true/false", source, pos, _NUMBER_USE)
    return value


def _apply(op: str, a: float, b: float, pos: int, source: str) -> float:
    try:
        result = _ARITHMETIC[op](a, b)
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
    _, _, implementation, domain = _FUNCTIONS[function]
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


@dataclass(frozen=True)
class Expression:
    """A parsed expression, evaluated against named inputs; equal when the source text is."""

    source: str
    names: frozenset[str]
    _tree: _Node = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.source

    def is_boolean(self) -> bool:
        return bool(_gives_boolean(self._tree))

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
        return _evaluate(self._tree, values, self.source)


def _constant(node: _Node, source: str) -> Value | None:
    """The value of `node` when it uses no input (evaluation errors raise), else None."""
    if _uses_inputs(node):
        return None
    return _evaluate(node, {}, source)


def _uses_inputs(node: _Node) -> bool:
    return any(isinstance(n, _Name) for n in _walk(node))


def _walk(node: _Node) -> list[_Node]:
    """Every node of the tree (iteratively; depth is already bounded by the parser)."""
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(_children(current))
    return out


def _children(node: _Node) -> tuple[_Node, ...]:
    match node:
        case _Literal() | _Name():
            return ()
        case _Unary(_, operand):
            return (operand,)
        case _Arith(first, rest):
            return (first, *(operand for _, _, operand in rest))
        case _Binary(_, left, right):
            return (left, right)
        case _Call(_, args) | _Logic(_, args):
            return args
    assert_never(node)


@lru_cache(maxsize=4096)
def _constants_problem(expression: Expression) -> ExpressionError | None:
    try:
        _check_constants(expression._tree, expression.source)
    except ExpressionError as exc:
        return exc
    return None


def _check_constants(node: _Node, source: str) -> None:
    if _constant(node, source) is not None:
        return  # evaluated whole without error
    match node:
        case _Arith(_, rest):
            for op, pos, operand in rest:
                if op in ("/", "//", "%") and _constant(operand, source) == 0:
                    hint = "guard the divisor, e.g. max(N, 1)"
                    raise ExpressionError(f"division by zero ('{op}' 0)", source, pos, hint)
        case _Binary("**", _, exponent, pos):
            power = _constant(exponent, source)
            if isinstance(power, float) and abs(power) > MAX_EXPONENT:
                hint = f"keep exponents between -{MAX_EXPONENT:g} and {MAX_EXPONENT:g}"
                raise ExpressionError(f"exponent {power:g} is too large", source, pos, hint)
    for child in _children(node):
        _check_constants(child, source)


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
    parser = _Parser(source)
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
