"""Closed-form evaluation (openrlhf_pure.core.grading.closed_form): the grammar and rule E2b."""

from __future__ import annotations

import math

import pytest

from openrlhf_pure.core.grading.closed_form import compare_closed_forms, evaluate, sample_value


@pytest.mark.parametrize(
    "text, value",
    [
        ("2\\sqrt{3}", 2 * math.sqrt(3)),
        ("\\frac{\\pi}{2}", math.pi / 2),
        ("\\sqrt[3]{8}", 2.0),
        ("2^{10}", 1024.0),
        ("5!", 120.0),
        ("\\binom{5}{2}", 10.0),
        ("e^{2}", math.e**2),
        ("\\cos(0)", 1.0),
        ("\\log(100)", 2.0),  # base 10, as math-verify reads it
        ("\\ln(e^{2})", 2.0),
        ("-(1+2)\\cdot3", -9.0),
        ("\\frac{1}{2}\\div4", 0.125),
    ],
)
def test_numeric_closed_forms_evaluate(text, value):
    result = evaluate(text)
    assert result is not None and result[1] == frozenset()
    assert float(result[0]) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        "1\\frac{4}{5}",  # a mixed number: math-verify reads 9/5
        "\\log_2(8)",  # a subscripted base
        "\\cos 2t",  # no brackets: readings differ
        "e",  # alone, e could be a variable
        "3+4i",  # complex
        "\\sqrt{-1}",
        "1/0",
        "10^{200000}",  # beyond the decimal exponent range
        "10^{-200000}",
        "\\sin(10^{-400})",  # an argument outside the float range
        "x=1",
        "(1,2)",
        "171!",
        "\\int_0^1x",
        "",
    ],
)
def test_outside_the_grammar_or_the_reals_gives_none(text):
    assert evaluate(text) is None


def test_variables_are_collected_with_subscripts_and_decorations():
    result = evaluate("C_{1}\\dot{x}_0+\\omega_n t")
    assert result is not None and result[1] == frozenset({"C_1", "dot_x_0", "omega_n", "t"})


def test_sample_values_differ_by_letter_and_straddle_one():
    assert len({sample_value(chr(c), 0) for c in range(ord("a"), ord("z") + 1)}) == 26
    assert all(0 < sample_value("x", p) < 1 for p in (0, 2)) and all(sample_value("x", p) > 1 for p in (1, 3))


def test_different_values_decide_unequal():
    assert compare_closed_forms("2n", "n^2") is False
    assert compare_closed_forms("\\frac{\\sqrt{3}}{2}", "5") is False


def test_equal_numeric_values_decide_equal():
    assert compare_closed_forms("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}") is True


def test_equal_values_with_variables_are_left_open():
    assert compare_closed_forms("(x+1)^2", "x^2+2x+1") is None


def test_points_outside_a_domain_are_skipped():
    assert compare_closed_forms("\\sqrt{1-x^2}", "x") is False


def test_outside_the_grammar_is_left_open():
    assert compare_closed_forms("\\log_2(8)", "3") is None


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("2^{-2000}", "2^{-3000}"),
        ("10^{-401}", "0"),
        ("\\pi^{-1000}", "\\pi^{-2000}"),
        ("e^{-800}", "0"),
        ("1+10^{-20}-1", "0"),  # 34 significant digits: no cancellation to 0
    ],
)
def test_tiny_or_huge_distinct_values_stay_distinct(pred, gold):
    assert compare_closed_forms(pred, gold) is False
    assert compare_closed_forms(gold, pred) is False


def test_tiny_equal_values_written_differently_are_equal():
    assert compare_closed_forms("2^{-3000}", "\\frac{1}{2^{3000}}") is True
    assert compare_closed_forms("10^{-401}", "\\frac{1}{10}\\cdot10^{-400}") is True
