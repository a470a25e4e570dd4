"""Hostile-input pre-checks (openrlhf_pure.core.grading.precheck): one case per rule P1-P9."""

from __future__ import annotations

import time

import pytest

from openrlhf_pure.core.grading.normalize import clean_answer
from openrlhf_pure.core.grading.precheck import Limits, hostile_reason, magnitude

REJECTED = [
    ("P1", "1+" * 201),
    ("P2", "\\frac{1}{" * 9 + "2" + "}" * 9),
    ("P2", "(" * 20 + "x" + ")" * 20),
    ("P3", "1" * 101),
    ("P4", "9^9^9"),
    ("P5", "2^{100000}"),
    ("P5", "9^{9^{9}}"),
    ("P5", "9^{9^{9^{9}}}"),
    ("P5", "x^{10^{10}}"),
    ("P5", "\\sum_{k=1}^{10^{9}} k"),
    ("P5", "(x+y+z)^{40}"),
    ("P5", "\\pi^{503227n}"),
    ("P5", "(n+7)^{6+e+983}"),
    ("P6", "100000!"),
    ("P6", "(10!)!"),
    ("P6", "1001!"),
    ("P6", "(x-852)!"),
    ("P7", "\\binom{100000}{50000}"),
    ("P7", "\\binom{y}{397}"),
    ("P7", "\\binom{n+538}{0.5}"),
    ("P7", "\\binom{\\pi}{150}"),
    ("P6", "(\\pi+400)!"),
    ("P8", "1e999999"),
    ("P9", "(99^{9999})^{9}"),
    ("P10", "3+626!\\sqrt{3}!-e"),
    ("P10", "x+2^{1009}"),
    ("P11", "(a+b)(c+d)(f+g)(h+j)(k+l)(m+n)(o+p)(q+r)(s+t)(u+v)+e"),  # 6 s in SymPy, x2 per factor
    ("P11", "((a+b)(c+d)(f+g))((h+j)(k+l)(m+n))((o+p)(q+r)(s+t))"),
    ("P11", "(a+b+c)^{5}(d+f+g)^{5}"),
    ("P12", "(x+20)!(x+19)!(x+18)!(x+17)!"),  # 2 s in SymPy
    ("P12", "(x+15)!\\binom{y+15}{2}(z+15)!"),
]


@pytest.mark.parametrize("rule, answer", REJECTED, ids=[f"{r}-{a[:20]}" for r, a in REJECTED])
def test_hostile_answers_are_rejected_by_their_rule(rule, answer):
    reason = hostile_reason(answer)
    assert reason is not None and reason.startswith(rule)


@pytest.mark.parametrize(
    "answer",
    [
        "2^{1009}",
        "\\frac{100!}{2^{50}}",
        "10^{100}",
        "(x+1)^{2}",
        "e^{-x^2}",
        "2^{2^{2}}",
        "1000!",
        "x^{2014}",
        "x+100!",
        "\\binom{2n}{n}",
        "(n-1)!",
        "(x+1)(x+2)(x+3)(x+4)(x+5)(x+6)(x+7)(x+8)(x+9)(x+10)(x+11)(x+12)(x+13)(x+14)(x+15)(x+16)",
        "(a+b)^{5}(c+d)^{5}",
        "(x+y)(x-y)(x^{2}+y^{2})",
        "(x+20)!(x+20)!",
        "\\frac{(a+b)(c+d)}{(f+g)(h+j)}",
    ],
)
def test_big_but_harmless_answers_pass(answer):
    assert hostile_reason(answer) is None


def test_every_benchmark_gold_passes(golds):
    rejected = {(b, i): hostile_reason(clean_answer(g)) for b, i, g in golds if hostile_reason(clean_answer(g))}
    assert rejected == {}


def test_limits_are_configurable():
    assert hostile_reason("12345", Limits(max_digits=4)).startswith("P3")


def test_magnitude_bounds_numeric_expressions():
    assert magnitude("2^{10}") == pytest.approx(10 * 0.30103, rel=1e-3)
    assert magnitude("x+1") is None


@pytest.mark.parametrize("answer", ["-" * 400, "\\sqrt" * 80, "!" * 400, "{" * 400, "^" * 400, "a_" * 200])
def test_degenerate_strings_are_checked_quickly(answer):
    start = time.perf_counter()
    hostile_reason(answer, Limits(max_depth=1000))
    assert time.perf_counter() - start < 0.1


UNICODE_NUMERALS = [chr(c) for c in range(0x110000) if chr(c).isnumeric()]


def test_every_unicode_numeral_is_checked_without_raising():
    # '²'.isdigit() is True but float('²') raises; '٣' (Arabic-Indic) is a decimal digit and reads as 3
    assert "²" in UNICODE_NUMERALS and "٣" in UNICODE_NUMERALS and len(UNICODE_NUMERALS) > 1500
    for c in UNICODE_NUMERALS:
        for answer in (f"4{c}", c, f"{c}^{{{c}}}", f"({c})!", f"x^{c}", f"\\binom{{{c}}}{{2}}", f"{c}.{c}", f"{c}e{c}"):
            hostile_reason(answer)
            magnitude(answer)


def test_decimal_digits_of_other_scripts_are_bounded_like_ascii_ones():
    assert hostile_reason("٩^{٩^{٩}}").startswith("P5")  # 9^{9^{9}} in Arabic-Indic digits
    assert hostile_reason("(٩٩٩٩)!").startswith("P6")
