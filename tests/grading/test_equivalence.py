"""Answer equivalence (openrlhf_pure.core.grading.equivalence): rules E1-E6, each by example."""

from __future__ import annotations

import pytest

from openrlhf_pure.core.grading import equivalence
from openrlhf_pure.core.grading.equivalence import answers_equal, cheap_equal
from openrlhf_pure.core.grading.normalize import clean_answer
from openrlhf_pure.core.grading.result import GradingConfig, Reason

CHEAP_CASES = [
    ("E1 dfrac and shorthand", "\\dfrac{1}{2}", "\\frac12", True),
    ("E1 text and case", "\\text{Evelyn}", "evelyn", True),
    ("E1 assignment", "x=5", "5", True),
    ("E2 AIME leading zero", "25", "025", True),
    ("E2 AMC float", "27", "27.0", True),
    ("E2 decimal and fraction", "0.5", "\\frac{1}{2}", True),
    ("E2 percent", "0.625", "62.5\\%", True),
    ("E2 scientific", "4.5\\times 10^{33}", "4.5e33", True),
    ("E2 thousands", "10080", "10,\\!080", True),
    ("E2 different numbers", "3", "4", False),
    ("E2b equal closed forms", "\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("E2b a closed form and a number", "\\sqrt{2}", "1.41421356237", True),
    ("E2b different expressions", "2n", "n^{2}", False),
    ("E3 list in another order", "7,5,3", "3, 5, 7", True),
    ("E3 missing item", "1,2", "1,2,3", False),
    ("E3 tuples in another order", "(2,7,13),(1,8,19)", "(1,8,19), (2,7,13)", True),
    ("E3 repeated item", "-2", "-2,-2", True),
    ("E3 set in another order", "\\{2,1\\}", "\\{1,2\\}", True),
    ("E3b list against an expression", "x+1", "1,3", False),
    ("E4 tuple item by item", "(1,0.5)", "(1,\\frac{1}{2})", True),
    ("E4 tuple in another order", "(2,1)", "(1,2)", False),
    ("E4b number against a variable", "x", "5", False),
    ("E4b number against a tuple", "(1,2)", "5", False),
    ("E4b number against a relation", "x \\le 5", "5", False),
    ("E4b number against plus-minus", "1 \\pm \\sqrt{19}", "3", False),
]


@pytest.mark.parametrize("rule, pred, gold, expected", CHEAP_CASES, ids=[c[0] for c in CHEAP_CASES])
def test_cheap_rule_decides(rule, pred, gold, expected):
    assert cheap_equal(clean_answer(pred), clean_answer(gold)) is expected


@pytest.mark.parametrize(
    "pred, gold",
    [("(x+1)^2", "x^2+2x+1"), ("(3,4)", "(3,4]"), ("\\pi r^2", "r^2\\pi"), ("\\sqrt{x^2}", "|x|")],
)
def test_cheap_rules_leave_symbolic_pairs_open(pred, gold):
    assert cheap_equal(clean_answer(pred), clean_answer(gold)) is None


def test_e5_a_hostile_answer_is_rejected_before_math_verify(monkeypatch):
    monkeypatch.setattr(equivalence, "math_verify_equal", lambda p, g: pytest.fail("math-verify was called"))
    equal, reason, detail = answers_equal("9^{9^{9}}", "2")
    assert (equal, reason) == (False, Reason.REJECTED)
    assert detail.startswith("answer: P5")


def test_e5_a_hostile_gold_is_rejected_too():
    assert answers_equal("\\cos x", "\\sin x (x+y+z)^{50}")[1] == Reason.REJECTED


def test_e6_math_verify_settles_symbolic_equality():
    assert answers_equal("(x+1)^2", "x^2+2x+1") == (True, Reason.CORRECT, "")


def test_e6_math_verify_settles_intervals():
    assert answers_equal("(3,4)", "(3,4]") == (False, Reason.WRONG, "")


def test_e6_an_unparsable_answer_is_a_parse_error():
    equal, reason, _ = answers_equal("\\frac{", "x")
    assert (equal, reason) == (False, Reason.PARSE_ERROR)


def test_without_math_verify_an_open_pair_is_wrong(monkeypatch):
    monkeypatch.setattr(equivalence, "math_verify_equal", lambda p, g: pytest.fail("math-verify was called"))
    equal, reason, detail = answers_equal("(x+1)^2", "x^2+2x+1", GradingConfig(math_verify=False))
    assert (equal, reason, detail) == (False, Reason.WRONG, "undecided without math-verify")


def test_math_verify_is_called_with_latex_extraction_only(monkeypatch):
    import math_verify

    seen = []
    real_parse = math_verify.parse

    def spy(text, extraction_config, **kwargs):
        seen.append(tuple(type(c).__name__ for c in extraction_config))
        assert kwargs["parsing_timeout"] is None
        return real_parse(text, extraction_config, **kwargs)

    monkeypatch.setattr(math_verify, "parse", spy)
    equivalence.math_verify_equal("x^2", "x \\cdot x")
    assert seen == [("LatexExtractionConfig",), ("LatexExtractionConfig",)]
