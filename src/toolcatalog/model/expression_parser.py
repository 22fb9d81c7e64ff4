"""The parser of profile expressions: a tokenizer and a recursive descent into the tree.

Grammar, loosest first, with Python's precedence:

    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom ["**" unary]                 right-associative; -2**2 == -4, 2**-1 == 0.5
    atom       := NUMBER | NAME | "true" | "false" | FUNCTION "(" or ("," or)* ")" | "(" or ")"

Numbers and true/false never mix: refused here for literals and operators (inputs are checked when
evaluating). Source length is checked by `parse_expression`, nesting depth here.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from typing import NamedTuple

from toolcatalog.model.expression_tree import (
    COMPARISONS,
    FUNCTIONS,
    MAX_DEPTH,
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
    gives_boolean,
)

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


class Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0
        self.names: set[str] = set()

    def parse(self) -> Node:
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

    def _nested(self, parse: Callable[[], Node], pos: int) -> Node:
        # Bounds the parser's recursion and so the evaluator's: deep trees are abuse, not profiles.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"expression nests over {MAX_DEPTH} levels deep", pos, "simplify it")
        try:
            return parse()
        finally:
            self.depth -= 1

    def _number(self, node: Node, user: str, pos: int) -> Node:
        if gives_boolean(node):
            raise self._error(f"{user} needs numbers, not true/false", pos, NUMBER_USE)
        return node

    def _boolean(self, node: Node, user: str, pos: int) -> Node:
        if gives_boolean(node) is False:
            raise self._error(f"{user!r} needs true/false, not a number", pos, NUMBER_USE)
        return node

    def _or(self) -> Node:
        return self._logic("or", self._and)

    def _and(self) -> Node:
        return self._logic("and", self._not)

    def _logic(self, op: str, operand: Callable[[], Node]) -> Node:
        first = operand()
        operands = [first]
        while token := self._at(op):
            if len(operands) == 1:
                self._boolean(first, op, token.pos)
            operands.append(self._boolean(operand(), op, token.pos))
        return first if len(operands) == 1 else Logic(op, tuple(operands))

    def _not(self) -> Node:
        if token := self._at("not"):
            operand = self._nested(self._not, token.pos)
            return Unary("not", self._boolean(operand, "not", token.pos), token.pos)
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._sum()
        if not (token := self._at(*COMPARISONS)):
            return left
        right = self._sum()
        if chained := self._at(*COMPARISONS):
            hint = "write 'a < b and b < c'"
            raise self._error("chained comparisons are not supported", chained.pos, hint)
        if token.text in ("==", "!="):
            kinds = {gives_boolean(left), gives_boolean(right)}
            if kinds == {True, False}:
                raise self._error(f"{token.text!r} compares a number with true/false", token.pos)
        else:
            self._number(left, repr(token.text), token.pos)
            self._number(right, repr(token.text), token.pos)
        return Binary(token.text, left, right, token.pos)

    def _sum(self) -> Node:
        return self._arith(("+", "-"), self._term)

    def _term(self) -> Node:
        return self._arith(("*", "/", "//", "%"), self._unary)

    def _arith(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, int, Node]] = []
        while token := self._at(*ops):
            if not rest:
                self._number(first, repr(token.text), token.pos)
            right = self._number(operand(), repr(token.text), token.pos)
            rest.append((token.text, token.pos, right))
        return Arith(first, tuple(rest)) if rest else first

    def _unary(self) -> Node:
        if token := self._at("-", "+"):
            operand = self._nested(self._unary, token.pos)
            return Unary(token.text, self._number(operand, repr(token.text), token.pos), token.pos)
        return self._power()

    def _power(self) -> Node:
        base = self._atom()
        if not (token := self._at("**")):
            return base
        exponent = self._nested(self._unary, token.pos)
        self._number(base, "'**'", token.pos)
        return Binary("**", base, self._number(exponent, "'**'", token.pos), token.pos)

    def _atom(self) -> Node:
        token = self._next()
        if token.kind == "number":
            if not math.isfinite(value := float(token.text)):
                raise self._error(f"number {token.text} is too large", token.pos)
            return Literal(value)
        if token.text == "(":
            node = self._nested(self._or, token.pos)
            if not self._at(")"):
                hint = f"expected ')' to close the '(' at column {token.pos + 1}"
                raise self._unexpected(self._peek(), hint)
            return node
        if token.kind != "name" or token.text in ("and", "or", "not"):
            raise self._unexpected(token, "expected a number, an input name or '('")
        if token.text in ("true", "false"):
            return Literal(token.text == "true")
        if self._peek().text == "(":
            return self._call(token)
        if token.text in FUNCTIONS:
            hint = f"call it, e.g. {token.text}(N)"
            raise self._error(f"function {token.text!r} used without arguments", token.pos, hint)
        if keyword.iskeyword(token.text):
            hint = "write true or false in lower case" if token.text in ("True", "False") else ""
            raise self._error(f"{token.text!r} is not part of the language", token.pos, hint)
        self.names.add(token.text)
        return Name(token.text, token.pos)

    def _call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            allowed = f"allowed: {', '.join(sorted(FUNCTIONS))}"
            raise self._error(f"unknown function {name.text!r}", name.pos, allowed)
        opening = self._next()
        args: list[Node] = []
        closed = self._at(")") is not None
        while not closed:
            arg = self._nested(self._or, opening.pos)
            args.append(self._number(arg, f"{name.text}()", name.pos))
            closed = self._at(")") is not None
            if not closed and not self._at(","):
                hint = f"expected ',' or ')' to close the '(' at column {opening.pos + 1}"
                raise self._unexpected(self._peek(), hint)
        least, most, _, _ = FUNCTIONS[name.text]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least} or more" if most is None else f"{least}"
            if most is not None and most != least:
                wanted += f" or {most}"
            problem = f"{name.text}() takes {wanted} arguments, got {len(args)}"
            raise self._error(problem, name.pos)
        return Call(name.text, tuple(args), name.pos)
