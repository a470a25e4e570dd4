"""Grading one item in process (openrlhf_pure.core.grading.grade): the steps and their reasons."""

from __future__ import annotations

import threading

import pytest

from openrlhf_pure.core.grading.grade import gold_text, grade_response
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig, Reason


def test_a_correct_answer():
    result = grade_response("... so the answer is $\\boxed{025}$.", "25")
    assert (result.correct, result.extracted, result.reason) == (True, "025", Reason.CORRECT)


def test_a_wrong_answer():
    result = grade_response("\\boxed{24}", "25")
    assert (result.correct, result.extracted, result.reason) == (False, "24", Reason.WRONG)


def test_no_answer():
    result = grade_response("I could not finish.", "25")
    assert (result.correct, result.extracted, result.reason) == (False, None, Reason.NO_ANSWER)


def test_no_gold_still_extracts():
    for gold in (None, "", "   "):
        result = grade_response("\\boxed{3}", gold)
        assert (result.correct, result.extracted, result.reason) == (None, "3", Reason.NO_GOLD)


def test_a_float_gold_is_read_as_text():
    assert gold_text(27.0) == "27.0"
    assert grade_response("\\boxed{27}", 27.0).correct is True


def test_elapsed_time_is_recorded():
    assert grade_response("\\boxed{1}", "1").elapsed_s > 0


def test_reasons_compare_equal_to_their_strings():
    assert Reason.TIMEOUT == "timeout" and str(Reason.MEMORY) == "memory"


def test_results_are_frozen():
    result = GradeResult(True, "1", Reason.CORRECT)
    try:
        result.correct = False  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("GradeResult is mutable")


def test_config_round_trips_through_a_dict():
    config = GradingConfig(prechecks=False, rel_tol=1e-4)
    assert GradingConfig.from_dict(config.to_dict()) == config


def test_number_golds_are_written_out_exactly():
    from decimal import Decimal
    from fractions import Fraction

    assert gold_text(10**5000) == "1" + "0" * 5000  # past Python's 4,300-digit str limit
    assert gold_text(-7) == "-7" and gold_text(Fraction(-3, 4)) == "-3/4" and gold_text(Decimal("1E+3")) == "1E+3"
    assert gold_text(1e-05) == "1e-05"  # a float: its shortest round-trip repr
    assert grade_response("\\boxed{1" + "0" * 5000 + "}", 10**5000).reason == Reason.CORRECT
    assert grade_response("\\boxed{-0.75}", Fraction(-3, 4)).correct is True
    assert grade_response("\\boxed{1000}", Decimal("1E+3")).correct is True


@pytest.mark.parametrize("gold", [b"25", ["25"], {"answer": "25"}, True, 2j, object()])
def test_other_gold_types_are_refused_naming_the_type(gold):
    with pytest.raises(TypeError, match=type(gold).__name__):
        grade_response("\\boxed{25}", gold)


@pytest.mark.parametrize("gold", [float("nan"), float("inf"), 10**100_001], ids=["nan", "inf", "int-100002-digits"])
def test_non_finite_or_oversized_number_golds_are_refused(gold):
    with pytest.raises(ValueError, match="finite|digits"):
        gold_text(gold)


@pytest.mark.parametrize("answer", ["4²", "²", "4^²", "①", "x^{³}", "(²)!", "\\frac{½}{2}", "٣²"])
def test_unicode_digit_forms_are_graded_not_raised(answer):
    result = grade_response(f"\\boxed{{{answer}}}", "16")
    assert result.reason in (Reason.WRONG, Reason.PARSE_ERROR, Reason.CORRECT)


@pytest.mark.parametrize(("answer", "gold"), [("2^{-2000}", "2^{-3000}"), ("10^{-401}", "0"), ("\\pi^{-1000}", "0")])
def test_distinct_tiny_values_grade_unequal(answer, gold):
    assert grade_response(f"\\boxed{{{answer}}}", gold).reason == Reason.WRONG
    assert grade_response(f"\\boxed{{{gold}}}", answer).reason == Reason.WRONG


SLOW_IN_SYMPY = (  # a real pair of benchmark golds (Minerva): 8 s in math-verify on this machine
    "m l \\ddot{\\theta}(t)-m g \\sin \\theta(t)=f(t) \\cos \\theta(t)",
    "\\frac{d^{2} v_{o}}{d t^{2}}+\\frac{v_{o}}{L C}=\\frac{v_{i}}{L C}",
)


def test_math_verify_is_bounded_in_process():
    result = grade_response(f"\\boxed{{{SLOW_IN_SYMPY[0]}}}", SLOW_IN_SYMPY[1], GradingConfig(time_limit_s=0.3))
    assert (result.correct, result.reason) == (False, Reason.TIMEOUT)
    assert "time_limit_s=0.3" in result.detail


def test_math_verify_is_bounded_in_other_threads_too():
    results = []
    config = GradingConfig(time_limit_s=0.3)
    thread = threading.Thread(
        target=lambda: results.append(grade_response(f"\\boxed{{{SLOW_IN_SYMPY[0]}}}", SLOW_IN_SYMPY[1], config))
    )
    thread.start()
    thread.join(timeout=60)
    assert results[0].reason == Reason.TIMEOUT
    assert grade_response("\\boxed{\\frac{x^2-1}{x-1}}", "x+1").correct is True  # nothing left pending


@pytest.mark.parametrize(
    "answer",
    [
        "(a+b)(c+d)(f+g)(h+j)(k+l)(m+n)(o+p)(q+r)(s+t)(u+v)(w+x)(y+z)+e",  # a long product of sums
        "(x+20)!(x+19)!(x+18)!(x+17)!(x+16)!",  # a product of symbolic factorials
    ],
)
def test_inputs_that_ran_for_minutes_in_process_are_rejected(answer):
    gold = answer.replace("+e", "+\\pi").replace("(x+16)!", "(x+15)!")
    result = grade_response(f"\\boxed{{{answer}}}", gold)
    assert result.reason == Reason.REJECTED and result.detail.startswith("answer: P1")
