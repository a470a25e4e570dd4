"""PRM800K raw lines -> stepwise rows: ratings, the chosen path, the cut at the first error, and the report."""

from __future__ import annotations

import json

import pytest

from openrlhf_pure.data.prm800k import Prm800kOptions, Prm800kReport, convert_prm800k, iter_prm800k
from openrlhf_pure.data.stepwise import DataFormatError, load_stepwise

PROBLEM = "What is the greatest common factor of $20 !$ and $200,\\!000$?"


def completion(text, rating, flagged=None):
    return {"text": text, "rating": rating, "flagged": flagged}


def step(*completions, chosen=0, human=None):
    return {"completions": list(completions), "human_completion": human, "chosen_completion": chosen}


def line(*steps, finish="solution", qc=False, screening=False, problem=PROBLEM):
    """One PRM800K line in the raw format of openai/prm800k data/phase*_*.jsonl."""
    return {
        "labeler": "340d89bc-f5b7-45e9-b272-909ba68ee363",
        "timestamp": "2023-01-22T04:34:27.052924",
        "generation": 9,
        "is_quality_control_question": qc,
        "is_initial_screening_question": screening,
        "question": {
            "problem": problem,
            "ground_truth_answer": "40,\\!000",
            "pre_generated_steps": [c["text"] for s in steps for c in (s["completions"] or [])[:1]],
        },
        "label": {"steps": list(steps), "total_time": 278270, "finish_reason": finish},
    }


# The README's example: two steps rated 0, then a step with no chosen completion whose first
# completion (the pre-generated one) is rated -1, alternatives rated -1 / 0.
FOUND_ERROR = line(
    step(completion("I want the largest integer dividing both.", 0)),
    step(completion("Factor both numbers into primes.", 0)),
    step(
        completion("$200,\\!000 = 2^9\\cdot 5^4$.", -1),
        completion("Every factorial is a multiple of smaller numbers.", 0),
        completion("A factor tree gives $2^9\\cdot 5^4$.", -1),
        chosen=None,
    ),
    finish="found_error",
)


def convert(tmp_path, *lines, **options):
    path = tmp_path / "phase2_train.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = Prm800kReport()
    rows = list(iter_prm800k([path], Prm800kOptions(**options), report))
    return rows, report


def test_found_error_line_follows_chosen_steps_and_ends_at_the_first_minus_one_completion(tmp_path):
    """Ratings 0, 0 are correct; the null-chosen step takes its first -1 completion: labels T, T, F."""
    (row,), report = convert(tmp_path, FOUND_ERROR)
    assert row.prompt == PROBLEM
    assert row.steps[2] == "$200,\\!000 = 2^9\\cdot 5^4$."
    assert row.labels == (True, True, False)
    assert (report.lines, report.rows, dict(report.excluded)) == (1, 1, {})


def test_rating_zero_is_correct_by_default_and_incorrect_with_the_option(tmp_path):
    ok = line(step(completion("a", 0)), step(completion("b", 1)))
    assert convert(tmp_path, ok)[0][0].labels == (True, True)
    assert convert(tmp_path, ok, neutral_is_correct=False)[0][0].labels == (False, True)


def test_trajectory_is_cut_after_its_first_incorrect_step_and_the_cut_is_noted(tmp_path):
    """Phase 1 may go on after a chosen -1 step: steps after it are dropped."""
    x = line(step(completion("a", 1)), step(completion("b", -1)), step(completion("c", 1)))
    (row,), report = convert(tmp_path, x)
    assert (row.steps, row.labels) == (("a", "b"), (True, False))
    assert report.notes == {"cut_after_error": 1}


def test_unrated_chosen_step_keeps_the_rated_prefix_by_default(tmp_path):
    x = line(step(completion("a", 1)), step(completion("b", None)), step(completion("c", 1)))
    (row,), report = convert(tmp_path, x)
    assert row.steps == ("a",) and report.notes == {"stopped_at_unrated": 1}


def test_unrated_chosen_step_excludes_the_line_when_prefixes_are_not_kept(tmp_path):
    x = line(step(completion("a", 1)), step(completion("b", None)))
    rows, report = convert(tmp_path, x, keep_unrated_prefix=False)
    assert rows == [] and report.excluded == {"unrated": 1}


def test_line_whose_first_step_is_unrated_is_excluded_as_unrated(tmp_path):
    rows, report = convert(tmp_path, line(step(completion("a", None))))
    assert rows == [] and report.excluded == {"unrated": 1}


@pytest.mark.parametrize(
    ("kwargs", "option", "reason"),
    [
        ({"qc": True}, "include_quality_control", "quality_control"),
        ({"screening": True}, "include_screening", "screening"),
        ({"finish": "bad_problem"}, "include_bad_problem", "bad_problem"),
        ({"finish": "give_up"}, "include_give_up", "give_up"),
    ],
)
def test_flagged_and_unfinished_lines_are_excluded_and_counted_unless_included(tmp_path, kwargs, option, reason):
    x = line(step(completion("a", 1)), **kwargs)
    rows, report = convert(tmp_path, x, FOUND_ERROR)
    assert len(rows) == 1 and report.excluded == {reason: 1}
    rows, report = convert(tmp_path, x, FOUND_ERROR, **{option: True})
    assert len(rows) == 2 and report.excluded == {}


def test_screening_is_the_reason_counted_for_a_line_with_several_flags(tmp_path):
    x = line(step(completion("a", 1)), qc=True, screening=True, finish="give_up")
    assert convert(tmp_path, x)[1].excluded == {"screening": 1}


def test_human_completion_is_not_followed_by_default_and_the_skip_is_noted(tmp_path):
    x = line(
        step(completion("a", 1)),
        step(completion("b", -1), completion("b2", -1), chosen=None, human={"text": "human b", "rating": None}),
        step(completion("c", 1)),
    )
    (row,), report = convert(tmp_path, x)
    assert (row.steps, row.labels) == (("a", "b"), (True, False))
    assert report.notes == {"human_completion_not_followed": 1, "cut_after_error": 1}


def test_human_completion_is_followed_as_a_correct_step_with_the_option(tmp_path):
    x = line(
        step(completion("a", 1)),
        step(completion("b", -1), chosen=None, human="human b"),
        step(completion("c", 1)),
    )
    (row,), _ = convert(tmp_path, x, follow_human_completion=True)
    assert (row.steps, row.labels) == (("a", "human b", "c"), (True, True, True))


def test_branch_alternatives_emit_a_row_per_rated_completion_not_taken(tmp_path):
    """Step 2 chose "b" (+1) over "b'" (-1) and unrated "b''": one branch a, b' labelled T, F."""
    x = line(
        step(completion("a", 1)),
        step(completion("b'", -1), completion("b", 1), completion("b''", None), chosen=1),
        step(completion("c", 0)),
    )
    rows, report = convert(tmp_path, x, branch_alternatives=True)
    assert [(r.steps, r.labels) for r in rows] == [
        (("a", "b", "c"), (True, True, True)),
        (("a", "b'"), (True, False)),
    ]
    assert report.branch_rows == 1 and report.rows == 2
    assert rows[1].id == rows[0].id + "/1"


def test_found_error_branches_exclude_the_step_taken_as_the_error(tmp_path):
    rows, _ = convert(tmp_path, FOUND_ERROR, branch_alternatives=True)
    assert [r.labels for r in rows] == [(True, True, False), (True, True, True), (True, True, False)]
    assert rows[2].steps[2] == "A factor tree gives $2^9\\cdot 5^4$."


def test_identical_rows_are_written_once_and_the_duplicates_counted(tmp_path):
    rows, report = convert(tmp_path, FOUND_ERROR, FOUND_ERROR, FOUND_ERROR)
    assert len(rows) == 1 and report.duplicate_rows == 2 and report.lines == 3
    rows, report = convert(tmp_path, FOUND_ERROR, FOUND_ERROR, deduplicate=False)
    assert len(rows) == 2 and report.duplicate_rows == 0


def test_null_completions_with_no_choice_stop_the_trajectory_there(tmp_path):
    x = line(step(completion("a", 1)), {"completions": None, "human_completion": None, "chosen_completion": None})
    (row,), report = convert(tmp_path, x)
    assert row.steps == ("a",) and report.notes == {"stopped_without_choice": 1}


def test_line_with_no_steps_is_excluded_and_counted(tmp_path):
    assert convert(tmp_path, line())[1].excluded == {"no_steps": 1}


def test_flagged_chosen_step_keeps_its_rating_and_is_noted(tmp_path):
    (row,), report = convert(tmp_path, line(step(completion("a", 1, flagged=True))))
    assert row.labels == (True,) and report.notes == {"flagged_step": 1}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda x: x["label"].update(finish_reason="done"), "label.finish_reason is 'done'"),
        (lambda x: x["label"]["steps"][0].update(chosen_completion=3), r"label.steps\[0\].chosen_completion 3"),
        (lambda x: x["label"]["steps"][0]["completions"][0].update(rating=2), "rating is 2"),
        (lambda x: x["label"]["steps"][0]["completions"][0].update(rating=True), "has type bool"),
        (lambda x: x.pop("question"), "missing field line.question"),
        (lambda x: x["label"]["steps"][0]["completions"][0].pop("text"), r"missing field label.steps\[0\]"),
    ],
)
def test_malformed_line_raises_naming_the_file_line_and_field(tmp_path, mutate, message):
    bad = line(step(completion("a", 1)))
    mutate(bad)
    with pytest.raises(DataFormatError, match=r"phase2_train\.jsonl:2: .*" + message):
        convert(tmp_path, FOUND_ERROR, bad)


def test_malformed_lines_are_counted_when_skipped(tmp_path):
    bad = line(step(completion("a", 7)))
    rows, report = convert(tmp_path, bad, FOUND_ERROR, on_bad_row="skip")
    assert len(rows) == 1 and report.excluded == {"malformed": 1}
    assert report.examples[0].startswith(f"{tmp_path / 'phase2_train.jsonl'}:1: ")


def test_rows_carry_file_and_line_ids_across_several_files(tmp_path):
    first, second = tmp_path / "phase1_train.jsonl", tmp_path / "phase2_train.jsonl"
    first.write_text(json.dumps(line(step(completion("a", 1)))) + "\n")
    second.write_text("\n" + json.dumps(FOUND_ERROR) + "\n")
    rows = list(iter_prm800k([first, second]))
    assert [r.id for r in rows] == ["phase1_train.jsonl:1", "phase2_train.jsonl:2"]
    assert {r.source for r in rows} == {"prm800k"}


def test_convert_writes_trl_jsonl_that_loads_back_and_reports(tmp_path):
    src = tmp_path / "phase2_test.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in [FOUND_ERROR, line(step(completion("a", 1)), qc=True)]))
    report = convert_prm800k([src], tmp_path / "out" / "trl.jsonl")
    rows, load_report = load_stepwise(tmp_path / "out" / "trl.jsonl")
    assert [r.labels for r in rows] == [(True, True, False)] and load_report.skipped == {}
    assert report.to_dict()["excluded"] == {"quality_control": 1}
    assert "lines excluded: 1 (quality_control 1)" in report.summary()
