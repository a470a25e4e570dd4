"""The README's main job (for now): the worked example runs and shows the paper's point."""

from __future__ import annotations

from openrlhf_pure.cli.worked_example import main


def test_sum_form_prefers_the_planning_response_and_min_form_the_correct_one(capsys):
    out = main([])
    sum_values, min_values = out["first_step_returns"]["sum"], out["first_step_returns"]["min"]
    assert sum_values[2] > sum_values[0]  # C (only plans) beats A (correct) when summed
    assert min_values[0] > min_values[2]  # and loses under min-form credit
    assert out["mean_advantage"]["A correct"] > 0 > out["mean_advantage"]["C only plans"]
    printed = capsys.readouterr().out
    assert "future_min" in printed and printed.strip().splitlines()[-1].startswith("{")
