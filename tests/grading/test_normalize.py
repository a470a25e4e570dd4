"""String normalisation (openrlhf_pure.core.grading.normalize): one case per rule, C1-C13 and K1-K6."""

from __future__ import annotations

import pytest

from openrlhf_pure.core.grading.normalize import (
    brace_arguments,
    clean_answer,
    comparison_key,
    outer_brackets,
    split_top_level,
    strip_units,
    unwrap_commands,
)

CLEAN_CASES = [
    ("C1 dollars", "$\\frac{1}{2}$", "\\frac{1}{2}"),
    ("C1 dollars inside an OlympiadBench gold", "$69$,$84$", "69,84"),
    ("C1 dollar sign", "\\$18.90", "18.90"),
    ("C1 inline parentheses", "\\(x+1\\)", "x+1"),
    ("C1 display brackets", "\\[ 7 \\]", "7"),
    ("C2 unicode minus", "\u22125", "-5"),
    ("C2 unicode pi", "2π", "2\\pi"),
    ("C3 dfrac", "\\dfrac{17}{50}", "\\frac{17}{50}"),
    ("C3 tfrac", "\\tfrac{1}{3}", "\\frac{1}{3}"),
    ("C3 dbinom", "\\dbinom{5}{2}", "\\binom{5}{2}"),
    ("C4 frac of two digits", "\\frac43", "\\frac{4}{3}"),
    ("C4 frac with a space", "\\frac 59", "\\frac{5}{9}"),
    ("C4 frac with one braced argument", "\\frac{270}7", "\\frac{270}{7}"),
    ("C4 frac of a command", "\\frac\\pi2", "\\frac{\\pi}{2}"),
    ("C4 sqrt of a digit", "11\\sqrt2", "11\\sqrt{2}"),
    ("C5 comma-bang thousands", "10,\\!080", "10080"),
    ("C5 comma-bang thousands with spaces", "11,\\! 111,\\! 111,\\! 100", "11111111100"),
    ("C5 braced comma", "1{,}000", "1000"),
    ("C6 left and right", "\\left( 3, \\frac{\\pi}{2} \\right)", "( 3, \\frac{\\pi}{2} )"),
    ("C6 invisible delimiter", "\\left. x \\right|", "x |"),
    ("C6 thin spaces", "1\\,000", "1000"),
    ("C6 quad", "\\quad(2+\\sqrt{2}, 1+\\sqrt{2})", "(2+\\sqrt{2}, 1+\\sqrt{2})"),
    ("C6 displaystyle", "\\displaystyle\\frac{1}{2}", "\\frac{1}{2}"),
    ("C7 degrees", "90^\\circ", "90"),
    ("C7 braced degrees", "$45^{\\circ}$", "45"),
    ("C7 degree sign", "30°", "30"),
    ("C8 percent", "8 \\%", "8 %"),
    ("C9 text unit", "5.4 \\text{ cents}", "5.4"),
    ("C9 squared unit", "864 \\mbox{ inches}^2", "864"),
    ("C9 unit after a fraction", "\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"),
    ("C9 mathrm unit", "1.3 \\mathrm{~m}", "1.3"),
    ("C9 plain unit word", "45 minutes", "45"),
    ("C9 unknown word after a number stays", "5 apples", "5 apples"),
    ("C9 a text answer is not a unit", "\\text{Evelyn}", "Evelyn"),
    ("C10 text", "\\text{(C)}", "(C)"),
    ("C10 textbf", "\\textbf{east}", "east"),
    ("C11 text and", "2 \\text{ and } 3", "2,3"),
    ("C11 or", "x=2 or x=3", "x=2,x=3"),
    ("C12 plain thousands", "58,500", "58500"),
    ("C12 a list stays a list", "2500,7500", "2500,7500"),
    ("C12 a short list stays a list", "1,2", "1,2"),
    ("C13 trailing period", "$(-\\infty, 0) \\cup\\{1\\}$.", "(-\\infty, 0) \\cup\\{1\\}"),
]


@pytest.mark.parametrize("rule, raw, cleaned", CLEAN_CASES, ids=[c[0] for c in CLEAN_CASES])
def test_clean_answer_rule(rule, raw, cleaned):
    assert clean_answer(raw) == cleaned


KEY_CASES = [
    ("K1 spaces go", "2 \\sqrt{ 3 }", "2\\sqrt{3}"),
    ("K1 a command keeps its space before a letter", "\\cos (\\omega t)", "\\cos(\\omega t)"),
    ("K2 one-character groups", "x^{2}+y_{1}", "x^2+y_1"),
    ("K3 percent", "62.5%", "62.5"),
    ("K4 assignment", "x = 5", "5"),
    ("K4 subscripted assignment", "m_{\\max }=n^{2}-n-1", "n^2-n-1"),
    ("K4 function assignment", "f(x)=2 x", "2x"),
    ("K4 greek assignment", "\\theta = 30", "30"),
    ("K4 membership", "x \\in [-2,7]", "[-2,7]"),
    ("K4 an equation is kept", "y=2x=3", "y=2x=3"),
    ("K5 choice letter", "(C)", "C"),
    ("K6 a word is lower-cased", "Evelyn", "evelyn"),
    ("K6 one letter keeps its case", "R", "R"),
]


@pytest.mark.parametrize("rule, cleaned, key", KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_comparison_key_rule(rule, cleaned, key):
    assert comparison_key(cleaned) == key


def test_keep_percent_skips_rule_k3():
    assert comparison_key("62.5%", keep_percent=True) == "62.5%"


def test_brace_arguments_keeps_the_sqrt_index():
    assert brace_arguments("\\sqrt[3]7", "sqrt", 1) == "\\sqrt[3]{7}"


def test_brace_arguments_leaves_longer_commands_alone():
    assert brace_arguments("\\fracture", "frac", 2) == "\\fracture"


def test_unwrap_commands_handles_nesting():
    assert unwrap_commands("\\text{a \\textbf{b}}", ("text", "textbf")) == "a b"


def test_strip_units_needs_a_number_before_the_unit():
    assert strip_units("x \\text{ cm}") == "x \\text{ cm}"


def test_split_top_level_respects_brackets():
    assert split_top_level("(1,2),[3,4),\\{5,6\\},7") == ["(1,2)", "[3,4)", "\\{5,6\\}", "7"]


def test_outer_brackets_reads_mismatched_pairs():
    assert outer_brackets("(3,4]") == ("(", "3,4", "]")
    assert outer_brackets("\\{1,2\\}") == ("\\{", "1,2", "\\}")


def test_outer_brackets_needs_one_pair_around_everything():
    assert outer_brackets("(1,2),(3,4)") is None
    assert outer_brackets("x(1)") is None
