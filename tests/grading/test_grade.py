"""Grading one item in process (openrlhf_pure.core.grading.grade): the steps and their reasons."""

from __future__ import annotations

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
