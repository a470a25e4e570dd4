"""Plain numbers (openrlhf_pure.core.grading.exact_numbers): forms N1-N6, equality and limits."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrlhf_pure.core.grading.exact_numbers import Number, numbers_equal, parse_number

FORMS = [
    ("N1 leading zeros", "025", Fraction(25), False),
    ("N1 plus sign", "+2", Fraction(2), False),
    ("N1 negative", "-84", Fraction(-84), False),
    ("N2 float", "27.0", Fraction(27), True),
    ("N2 leading point", ".0000672", Fraction(672, 10**7), True),
    ("N2 trailing point", "5.", Fraction(5), True),
    ("N3 e-notation", "4.5e33", Fraction(45 * 10**32), True),
    ("N3 negative exponent", "1e-5", Fraction(1, 10**5), True),
    ("N3 times ten", "3.3\\times10^{12}", Fraction(33 * 10**11), True),
    ("N3 cdot ten", "3\\cdot10^{-4}", Fraction(3, 10**4), True),
    ("N3 power of ten", "10^{5}", Fraction(10**5), False),
    ("N4 frac", "\\frac{14}{3}", Fraction(14, 3), False),
    ("N4 negative frac", "-\\frac{35}{9}", Fraction(-35, 9), False),
    ("N4 frac of a negative", "\\frac{-1}{1997}", Fraction(-1, 1997), False),
    ("N4 slash", "1/3", Fraction(1, 3), False),
    ("N4 decimal slash", "-1./3", Fraction(-1, 3), True),
    ("N5 mixed number", "1\\frac{4}{5}", Fraction(9, 5), False),
    ("N5 negative mixed number", "-2\\frac{1}{2}", Fraction(-5, 2), False),
]


@pytest.mark.parametrize("rule, text, value, approximate", FORMS, ids=[f[0] for f in FORMS])
def test_parse_number_form(rule, text, value, approximate):
    number = parse_number(text)
    assert number == Number(value, approximate, False)


def test_n6_percent_is_flagged():
    assert parse_number("62.5%") == Number(Fraction(125, 2), True, True)


@pytest.mark.parametrize("text", ["", "x", "2x", "1,2", "\\sqrt{2}", "\\frac{1}{0}", "1/0", "2^{10}", "--1", "1e"])
def test_non_numbers_give_none(text):
    assert parse_number(text) is None


def test_too_many_digits_give_none():
    assert parse_number("9" * 1001) is None
    assert parse_number("9" * 1000) is not None


def test_an_exponent_beyond_the_limit_gives_none():
    assert parse_number("1e401") is None
    assert parse_number("10^{-401}") is None


def test_exact_numbers_compare_exactly():
    assert numbers_equal(parse_number("\\frac{1}{3}"), parse_number("1/3"))
    assert not numbers_equal(parse_number("\\frac{1}{3}"), parse_number("\\frac{333333}{1000000}"))


def test_approximate_numbers_compare_within_the_relative_tolerance():
    third = parse_number("\\frac{1}{3}")
    assert numbers_equal(parse_number("0.3333333"), third)
    assert not numbers_equal(parse_number("0.333"), third)


def test_tolerance_is_relative_for_tiny_numbers():
    assert not numbers_equal(parse_number("1e-8"), parse_number("2e-8"))
    assert numbers_equal(parse_number("1.24e-8"), parse_number("1.24\\times10^{-8}"))


def test_a_percentage_stands_for_itself_or_its_hundredth():
    gold = parse_number("62.5%")
    assert numbers_equal(parse_number("62.5"), gold)
    assert numbers_equal(parse_number("0.625"), gold)
    assert not numbers_equal(parse_number("6.25"), gold)


@given(st.fractions(max_denominator=10**6))
def test_equality_is_reflexive(value):
    number = Number(value, False, False)
    assert numbers_equal(number, number)


@given(st.integers(-(10**12), 10**12))
def test_integers_read_back_exactly(n):
    assert parse_number(str(n)).value == n
    assert parse_number(f"{n}.0").value == n
