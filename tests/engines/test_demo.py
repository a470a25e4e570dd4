"""A shortened run of the built-in demo: the whole pipeline, its report and its JSON line."""

from __future__ import annotations

import json

from openrlhf_pure.cli.demo import main


def test_a_short_demo_writes_its_report_and_ends_with_the_json_line(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["--output", str(out), "--warmup_steps", "20", "--prm_backbone_steps", "5", "--prm_steps", "4",
            "--rl_steps", "3", "--prompts_per_step", "2", "--samples_per_prompt", "2", "--max_new_tokens", "16",
            "--held_out", "8"]  # fmt: skip
    result = main(args)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last_line) == result
    assert set(result) == {"accuracy_before", "accuracy_after", "seconds", "report"}
    assert 0.0 <= result["accuracy_before"] <= 1.0 and 0.0 <= result["accuracy_after"] <= 1.0
    for name in ("summary.md", "samples.md", "result.json", "rl/metrics.jsonl", "prm/metrics.jsonl",
                 "plots/training_dynamics.png", "prm/final/config.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert len((out / "rl" / "metrics.jsonl").read_text().splitlines()) == 3
    assert "before RL" in (out / "summary.md").read_text()
