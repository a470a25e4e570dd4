"""The README's main job (for now): the worked example runs and shows the paper's point."""

from __future__ import annotations

import json

from openrlhf_pure.cli.worked_example import main


def test_sum_form_prefers_the_planning_response_and_min_form_the_correct_one(capsys):
    assert main([]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    sum_values, min_values = out["first_step_returns"]["sum"], out["first_step_returns"]["min"]
    assert sum_values[2] > sum_values[0]  # C (only plans) beats A (correct) when summed
    assert min_values[0] > min_values[2]  # and loses under min-form credit
    assert out["mean_advantage"]["A correct"] > 0 > out["mean_advantage"]["C only plans"]
    assert main(["--baseline", "none"]) == 0
    assert "future_min" in capsys.readouterr().out


def test_a_zero_temperature_is_one_line_not_a_traceback(capsys):
    assert main(["--temperature", "0"]) == 2
    assert (
        capsys.readouterr().err == "error: --temperature must be > 0 (softmin's T; T -> 0 is the min column), got 0.0\n"
    )
