"""Evaluating expressions: functions, guards, inputs and types, constants that never evaluate."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolcatalog.model.expression_tree import MAX_DEPTH, MAX_SOURCE_LENGTH
from toolcatalog.model.expressions import (
    ExpressionError,
    parse_expression,
)

# --- functions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("log(1)", 0),
        ("log(exp(2))", 2),
        ("log(8, 2)", 3),
        ("log10(1000)", 3),
        ("log2(1024)", 10),
        ("sqrt(16)", 4),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("min(2, 5)", 2),
        ("abs(-2.5)", 2.5),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ("exp(0)", 1),
    ],
)
def test_every_function_computes_its_value(source: str, expected: float) -> None:
    result = parse_expression(source).evaluate()
    assert result == pytest.approx(expected)
    assert type(result) is float


@pytest.mark.parametrize(
    ("source", "wanted"),
    [
        ("log()", "takes 1 or 2 arguments, got 0"),
        ("log(1, 2, 3)", "takes 1 or 2 arguments, got 3"),
        ("sqrt(1, 2)", "takes 1 arguments, got 2"),
        ("abs()", "takes 1 arguments, got 0"),
        ("min(1)", "takes 2 or more arguments, got 1"),
        ("max()", "takes 2 or more arguments, got 0"),
    ],
)
def test_function_arity_is_checked_when_parsing(source: str, wanted: str) -> None:
    with pytest.raises(ExpressionError, match=wanted):
        parse_expression(source)


def test_unknown_function_is_refused_listing_the_allowed_ones() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("eval(1)")
    message = str(caught.value)
    assert "unknown function 'eval'" in message
    assert "allowed: abs, ceil, exp, floor, log, log10, log2, max, min, sqrt" in message


def test_function_name_without_call_is_refused() -> None:
    with pytest.raises(ExpressionError, match="function 'log' used without arguments"):
        parse_expression("log + 1")


# --- guards --------------------------------------------------------------------------------------


def test_source_longer_than_the_limit_is_refused() -> None:
    longest = "1+" * ((MAX_SOURCE_LENGTH - 1) // 2) + "1"
    assert parse_expression(longest).evaluate() == (MAX_SOURCE_LENGTH - 1) // 2 + 1
    with pytest.raises(ExpressionError, match=f"more than {MAX_SOURCE_LENGTH}"):
        parse_expression(longest + "+1")


@pytest.mark.parametrize(
    "make",
    [lambda n: "(" * n + "1" + ")" * n, lambda n: "-" * n + "1", lambda n: "not " * n + "true"],
)
def test_nesting_deeper_than_the_limit_is_refused(make: Callable[[int], str]) -> None:
    parse_expression(make(MAX_DEPTH))
    with pytest.raises(ExpressionError, match=f"nests over {MAX_DEPTH} levels"):
        parse_expression(make(MAX_DEPTH + 1))


def test_long_flat_sums_do_not_count_as_nesting() -> None:
    assert parse_expression(" + ".join(["1"] * 200)).evaluate() == 200


@pytest.mark.parametrize("source", ["2 ** 101", "2 ** -101", "N ** 1000", "2 ** 2 ** 2 ** 2 ** 2"])
def test_exponent_beyond_the_limit_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError, match=r"exponent .* is too large"):
        parse_expression(source).evaluate({"N": 1})


def test_exponent_at_the_limit_is_allowed() -> None:
    assert parse_expression("2 ** 100").evaluate() == 2.0**100
    assert parse_expression("2 ** -100").evaluate() == 2.0**-100


@pytest.mark.parametrize(
    "source",
    [
        "10 ** 100 * 10 ** 100 * 10 ** 100 * 10 ** 100",
        "1e308 + 1e308",
        "-1e308 - 1e308",
        "exp(1000)",
        "N * N",
        "9.9 ** 100 ** 1 * 1e300",
        "1e300 / 1e-300",
    ],
)
def test_overflow_to_a_non_finite_result_is_an_error(source: str) -> None:
    with pytest.raises(ExpressionError, match="too large"):
        parse_expression(source).evaluate({"N": 1e200})


def test_number_literal_too_large_for_a_float_is_refused_when_parsing() -> None:
    with pytest.raises(ExpressionError, match="number 1e400 is too large"):
        parse_expression("1e400")


@pytest.mark.parametrize(
    "source",
    [
        "log(0)",
        "log(-1)",
        "log(8, 1)",
        "log(8, -2)",
        "log10(0)",
        "log2(-1)",
        "sqrt(-1)",
        "(-8) ** 0.5",
        "0 ** -1",
    ],
)
def test_math_domain_errors_are_expression_errors(source: str) -> None:
    with pytest.raises(ExpressionError, match="is undefined"):
        parse_expression(source).evaluate()


@pytest.mark.parametrize("operator", ["/", "//", "%"])
def test_division_by_zero_is_an_error_naming_the_expression(operator: str) -> None:
    source = f"200 {operator} N"
    with pytest.raises(ExpressionError) as caught:
        parse_expression(source).evaluate({"N": 0})
    message = str(caught.value)
    assert message.startswith(f"division by zero (200 {operator} 0) at column 5")
    assert f'in "{source}"' in message
    assert "max(N, 1)" in message


# --- inputs and types ----------------------------------------------------------------------------


def test_missing_input_is_named_with_the_known_ones() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("200 + 5 * M").evaluate({"N": 1, "pages": 2})
    assert str(caught.value) == "unknown input 'M' in \"200 + 5 * M\"; known inputs: N, pages"


def test_every_missing_input_is_named_even_without_an_env() -> None:
    with pytest.raises(ExpressionError, match=r"unknown inputs 'M', 'N'.*none were given"):
        parse_expression("M + N").evaluate()


def test_extra_inputs_are_ignored() -> None:
    assert parse_expression("N").evaluate({"N": 2, "unused": True}) == 2.0


@pytest.mark.parametrize(
    "value", ["12", None, float("nan"), float("inf"), -float("inf"), 10**400, [1]]
)
def test_input_that_is_not_a_finite_number_or_boolean_is_refused(value: object) -> None:
    with pytest.raises(ExpressionError, match="input 'N' must be a finite number or true/false"):
        parse_expression("N + 1").evaluate({"N": value})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "source",
    [
        "true + 1",
        "-true",
        "1 and true",
        "not 3",
        "(1 < 2) < 3",
        "1 == true",
        "max(1, true)",
        "2 ** (1 > 0)",
        "(N > 1) * 2",
        "true or 1",
    ],
)
def test_numbers_and_booleans_do_not_mix_when_parsing(source: str) -> None:
    with pytest.raises(ExpressionError, match="true/false"):
        parse_expression(source)


@pytest.mark.parametrize(
    ("source", "env"),
    [
        ("flag + 1", {"flag": True}),
        ("-flag", {"flag": False}),
        ("log(flag)", {"flag": True}),
        ("N and true", {"N": 1}),
        ("not N", {"N": 0}),
        ("flag == 1", {"flag": True}),
        ("flag < true", {"flag": True}),
    ],
)
def test_numbers_and_boolean_inputs_do_not_mix_when_evaluating(
    source: str, env: dict[str, float | bool]
) -> None:
    with pytest.raises(ExpressionError, match="true/false"):
        parse_expression(source).evaluate(env)


def test_boolean_inputs_work_in_conditions() -> None:
    assert parse_expression("flag == true and not other").evaluate({"flag": True, "other": False})
    assert parse_expression("flag").evaluate({"flag": True}) is True


def test_error_for_a_boolean_input_points_at_the_input() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("1 + flag").evaluate({"flag": True})
    assert caught.value.offset == 4


# --- constants that can never evaluate ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("2**99999999", "exponent"),
        ("1/0", "division by zero"),
        ("N / (2 - 2)", "division by zero"),
        ("N % 0", "division by zero"),
        ("N ** 1000", "exponent"),
        ("N + 10**400", "too large"),
        ("N * exp(1000)", "too large"),
        ("log(0) + N", "undefined"),
        ("N > 1 and 1/0 > 1", "division by zero"),
    ],
)
def test_constant_parts_that_can_never_evaluate_are_found_without_inputs(
    source: str, problem: str
) -> None:
    with pytest.raises(ExpressionError, match=problem):
        parse_expression(source).check_constants()


@pytest.mark.parametrize("source", ["100 / N", "N ** 2", "2 ** N", "max(N, 1) * 3", "N > 50"])
def test_expressions_that_can_evaluate_for_some_inputs_pass_the_constant_check(
    source: str,
) -> None:
    parse_expression(source).check_constants()
