"""Parsing profile expressions: the grammar and precedence, and what the parser refuses and says."""

from __future__ import annotations

import pickle

import pytest

from toolcatalog.model.expressions import (
    Expression,
    ExpressionError,
    parse_expression,
)

# --- grammar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("200 + 5 * N", {"N": 10}, 250.0),
        ("50 + 0.02 * files", {"files": 1000}, 70.0),
        ("max(100, log2(pages) * 30)", {"pages": 1024}, 300.0),
        ("max(100, log2(pages) * 30)", {"pages": 2}, 100.0),
        ("N > 50", {"N": 51}, True),
        ("files > 100000 and depth >= 3", {"files": 200_000, "depth": 3}, True),
        ("files > 100000 and depth >= 3", {"files": 200_000, "depth": 2}, False),
    ],
)
def test_profile_examples_evaluate_as_written(
    source: str, env: dict[str, float], expected: float | bool
) -> None:
    assert parse_expression(source).evaluate(env) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("64 / 4 / 2", 8),
        ("2 * 7 % 4", 2),
        ("7 // 2 * 2", 6),
        ("2 ** 3 ** 2", 512),
        ("(2 ** 3) ** 2", 64),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("2 ** -1", 0.5),
        ("2 ** -2 ** 2", 0.0625),
        ("- -3", 3),
        ("+-3", -3),
        ("-3 * -2", 6),
        ("-7 // 2", -4),
        ("-7 % 3", 2),
        ("7 % -3", -2),
        ("1e3 + .5", 1000.5),
        ("2.5e-1 * 4", 1),
        ("1E+2", 100),
        ("1 + 2 > 2", True),
        ("1 + 2 == 3.0", True),
        ("3 != 3", False),
        ("2 * 3 <= 6", True),
        ("not 1 > 2", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("not true and false", False),
        ("not (true and false)", True),
        ("not not true", True),
        ("false or not false", True),
        ("true == (1 < 2)", True),
        ("1 < 2 and 2 < 3 or 5 < 4", True),
    ],
)
def test_precedence_and_associativity_follow_python(source: str, expected: float | bool) -> None:
    result = parse_expression(source).evaluate()
    assert result == pytest.approx(expected)
    assert type(result) is (bool if isinstance(expected, bool) else float)


def test_arithmetic_gives_float_even_for_integer_inputs() -> None:
    result = parse_expression("N + 1").evaluate({"N": 2})
    assert result == 3.0
    assert type(result) is float


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("N > 1", True),
        ("N == 1 or M < 2", True),
        ("not flag", True),
        ("true", True),
        ("(false)", True),
        ("N + 1", False),
        ("max(N, 1)", False),
        ("flag", False),
        ("-N", False),
    ],
)
def test_is_boolean_reports_conditions(source: str, expected: bool) -> None:
    assert parse_expression(source).is_boolean() is expected


def test_names_lists_inputs_but_not_functions_or_literals() -> None:
    expression = parse_expression("log(N) + max(pages, 1) > 2 and not flag or true")
    assert expression.names == frozenset({"N", "pages", "flag"})


def test_str_is_the_source_and_parsing_is_cached() -> None:
    expression = parse_expression("200 + 5 * N")
    assert str(expression) == "200 + 5 * N"
    assert parse_expression("200 + 5 * N") is expression
    assert isinstance(expression, Expression)


def test_and_and_or_short_circuit_like_python() -> None:
    assert parse_expression("N > 0 and 10 / N > 1").evaluate({"N": 0}) is False
    assert parse_expression("N == 0 or 10 / N > 1").evaluate({"N": 0}) is True


def test_chained_comparisons_are_refused_with_the_rewrite_to_use() -> None:
    with pytest.raises(ExpressionError, match="chained comparisons") as caught:
        parse_expression("0 < N < 9")
    assert "a < b and b < c" in str(caught.value)


# --- refusals and messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        '__import__("os").system("id")',
        "a.b",
        "N.real",
        "a[0]",
        "lambda: 1",
        "lambda x: x",
        "'text'",
        '"text"',
        "1; 2",
        "N = 3",
        "import os",
        "x if y else z",
        "N && M",
        "N || M",
        "!N",
        "2 ^ 3",
        "()",
        "f(1)",
        "eval(1)",
        "1 2",
        "{}",
        "N @ M",
        "1_000",
        "2N",
        "0x10",
        "1.2.3",
        "True",
        "None",
        "N in M",
        "N, M",
        "max(1,)",
        "max(1 2)",
        "(1",
        "1)",
        "1 +",
        "and",
        "not",
        "",
        "   ",
        "N < > M",
        "\x00",
        "\uff13",
    ],
)
def test_anything_outside_the_language_is_refused_when_parsing(source: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("200 + )", "unexpected ')' at column 7 in \"200 + )\"; expected a number"),
        ("(1 + 2", "unexpected end of input at column 7 in \"(1 + 2\"; expected ')' to close"),
        ("'os'", 'unexpected character "\'" at column 1 in "\'os\'"; strings are not supported'),
        ("a.b", "attribute access is not supported"),
        ("N = 3", "use '==' to compare"),
        ("True", "'True' is not part of the language at column 1 in \"True\"; write true or false"),
        ("2N", "invalid number '2N' at column 1"),
    ],
)
def test_error_messages_say_what_where_and_how_to_fix(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(source)
    assert message in str(caught.value)


def test_error_carries_the_offset_and_is_a_value_error_for_pydantic() -> None:
    with pytest.raises(ValueError, match="unexpected") as caught:
        parse_expression("200 + )")
    assert isinstance(caught.value, ExpressionError)
    assert caught.value.offset == 6
    assert caught.value.source == "200 + )"


def test_error_survives_pickling_for_process_pools() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("1 / 0").evaluate()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), copy.offset) == (str(caught.value), caught.value.offset)


def test_non_string_source_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="expected an expression string, not int"):
        parse_expression(42)  # type: ignore[arg-type]
