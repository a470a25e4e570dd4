"""Invariants of the in-process grading functions, checked on generated inputs (hypothesis)."""

from __future__ import annotations

from fractions import Fraction

from grading_data import load_golds
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.core.grading.equivalence import cheap_equal
from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.grade import grade_response
from openrlhf_pure.core.grading.normalize import clean_answer
from openrlhf_pure.core.grading.result import Reason

LATEX_CHARS = st.sampled_from(list("0123456789+-*/^_{}()[],.=!%$ xyzei\\") + ["\\frac", "\\sqrt", "\\boxed", "\\pi"])


@settings(max_examples=300)
@given(st.text(max_size=120) | st.lists(LATEX_CHARS, max_size=60).map("".join), st.sampled_from(["1", "x^2", None]))
def test_grading_never_raises_and_always_gives_a_reason(response, gold):
    result = grade_response(response, gold)
    assert isinstance(result.reason, Reason)
    assert (result.correct is None) == (gold is None)


@given(st.text(alphabet=st.characters(blacklist_characters="{}\\$"), min_size=1, max_size=50))
def test_a_boxed_answer_comes_back_verbatim(content):
    if content.strip():
        assert extract_answer(f"We find that $\\boxed{{{content}}}$ holds.") == content.strip()


@given(st.integers(-(10**9), 10**9), st.integers(0, 3))
def test_an_integer_matches_itself_in_any_of_its_forms(n, zeros):
    forms = [str(n), f"{n}.0", f"{n:+d}", "-" * (n < 0) + "0" * zeros + str(abs(n))]
    for form in forms:
        assert grade_response(f"\\boxed{{{form}}}", str(n)).correct is True


@given(st.fractions(max_denominator=1000), st.fractions(max_denominator=1000))
def test_number_equality_is_symmetric(a: Fraction, b: Fraction):
    left, right = f"\\frac{{{a.numerator}}}{{{a.denominator}}}", f"{float(b)!r}"
    assert cheap_equal(left, right) == cheap_equal(right, left)


def test_cleaning_is_idempotent_on_every_gold():
    assert [g for _, _, g in load_golds() if clean_answer(clean_answer(g)) != clean_answer(g)] == []
