"""Answer extraction (openrlhf_pure.core.grading.extract): rules 1-3 and bounded cost."""

from __future__ import annotations

import time

import pytest

from openrlhf_pure.core.grading.extract import extract_answer, last_boxed, matching_brace


def test_the_last_box_wins():
    assert extract_answer("first \\boxed{1}, then \\boxed{2}.") == "2"


def test_nested_braces_are_matched():
    assert extract_answer("$\\boxed{\\frac{1}{\\sqrt{2}}}$") == "\\frac{1}{\\sqrt{2}}"


def test_escaped_braces_do_not_count():
    assert extract_answer("\\boxed{\\{1,2\\}}") == "\\{1,2\\}"


def test_fbox_is_a_box():
    assert extract_answer("so \\fbox{7} and done") == "7"


def test_the_last_of_boxed_and_fbox_wins():
    assert extract_answer("\\fbox{1} \\boxed{2} \\fbox{3}") == "3"


def test_one_token_form_runs_to_the_dollar():
    assert extract_answer("the result is $\\boxed 5$.") == "5"


def test_box_content_is_stripped():
    assert extract_answer("\\boxed{  42 }") == "42"


def test_an_unclosed_last_box_falls_back_to_the_one_before():
    assert extract_answer("\\boxed{3} and later \\boxed{4") == "3"


def test_an_empty_box_is_skipped():
    assert extract_answer("\\boxed{9} ... \\boxed{}") == "9"


def test_a_longer_command_is_not_a_box():
    assert extract_answer("\\boxedanswer{5}") is None


def test_final_answer_phrase_takes_a_math_span():
    assert extract_answer("The final answer is $\\frac{1}{2}$. I hope it is correct.") == "\\frac{1}{2}"


def test_answer_phrase_stops_at_the_sentence_end():
    assert extract_answer("So the answer is 3.5. Next we check.") == "3.5"


def test_answer_phrase_is_case_insensitive_and_skips_a_colon():
    assert extract_answer("THE ANSWER IS: 12") == "12"


def test_answer_phrase_drops_markdown_bold():
    assert extract_answer("the answer is **17**.") == "17"


def test_final_answer_is_preferred_over_the_answer_is():
    assert extract_answer("The final answer is 8. Earlier I said the answer is 7.") == "8"


def test_a_box_beats_a_phrase():
    assert extract_answer("\\boxed{1} ... the answer is 2.") == "1"


@pytest.mark.parametrize("text", ["", "no answer here", "the answer is", "the answer is .", "\\boxed{"])
def test_no_answer_gives_none(text):
    assert extract_answer(text) is None


def test_matching_brace_respects_its_scan_limit():
    assert matching_brace("{" + "a" * 50 + "}", 0) == 51
    assert matching_brace("{" + "a" * 50 + "}", 0, max_chars=10) == -1


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000 + "\\boxed{5}",
        "\\boxed{" * 200_000,
        "{" * 1_000_000,
        "\\boxed{" + "{" * 1_000_000,
        "the answer is " * 70_000,
    ],
    ids=["long-prefix", "many-open-boxes", "open-braces", "box-of-open-braces", "many-phrases"],
)
def test_cost_is_bounded_on_a_megabyte(text):
    start = time.perf_counter()
    extract_answer(text)
    assert time.perf_counter() - start < 0.5


def test_last_boxed_ignores_phrases():
    assert last_boxed("the answer is 5") is None
