"""A shortened demo: the whole pipeline, three runs in worker processes, its report and its JSON line."""

from __future__ import annotations

import json

from openrlhf_pure.cli import train_local
from openrlhf_pure.cli.demo import main

TINY = ["--warmup_steps", "20", "--prm_backbone_steps", "5", "--prm_steps", "4", "--rl_steps", "3",
        "--prompts_per_step", "2", "--samples_per_prompt", "2", "--max_new_tokens", "16", "--held_out", "8",
        "--max_term", "5", "--max_factor", "3"]  # fmt: skip


def test_a_short_demo_compares_three_runs_and_ends_with_the_json_line(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--output", str(out), "--workers", "2", *TINY]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    result = json.loads(printed[-1])
    assert set(result) == {"accuracy_before", "accuracy_after", "seconds", "report", "runs"}
    assert list(result["runs"]) == ["softmin", "sum", "vr"]
    assert result["accuracy_after"] == result["runs"]["softmin"]["accuracy_after"]  # the default run
    for name, run in result["runs"].items():
        assert 0.0 <= run["accuracy_after"] <= 1.0 and len(run["steps_per_response"]) == 2, name
        assert isinstance(run["alarms"], int) and run["rl_steps"] == 3, name
        assert json.loads((out / "runs" / name / "rl" / "config.json").read_text())["mode"] == run["mode"]
    assert [result["runs"][n]["mode"] for n in ("softmin", "sum", "vr")] == ["prm_vr", "prm_vr", "vr"]
    assert result["runs"]["vr"]["process_reward"] == [None, None]  # PURE-VR has no PRM
    assert any(line.startswith("held-out acc after (+- SE)") for line in printed)  # the side-by-side table
    for name in ("summary.md", "result.json", "prm/metrics.jsonl", "plots/training_dynamics.png",
                 "prm/final/config.json", "runs/softmin/samples.md", "runs/sum/rl/metrics.jsonl"):  # fmt: skip
        assert (out / name).is_file(), name
    assert len((out / "runs" / "softmin" / "rl" / "metrics.jsonl").read_text().splitlines()) == 3
    summary = (out / "summary.md").read_text()
    assert "held-out acc before" in summary and '"whitening": "masked"' in summary  # resolved advantages
    config = json.loads((out / "runs" / "sum" / "rl" / "config.json").read_text())
    assert config["advantage"]["credit"]["mode"] == "sum"
    check_every_folder_loads_alone_and_says_how_it_is_prompted(out)


def test_the_same_seed_gives_the_same_runs_in_one_process_and_in_two_workers(tmp_path, capsys):
    args = [*TINY, "--runs", "sum/prm,vr"]
    for name, workers in (("a", "1"), ("b", "2")):  # runs one after another, then two worker processes at once
        assert main(["--output", str(tmp_path / name), "--workers", workers, *args]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{"))
    assert first["runs"]["sum/prm"]["accuracy_after"] == second["runs"]["sum/prm"]["accuracy_after"]
    for name in ("runs/sum_prm/rl/metrics.jsonl", "runs/vr/rl/metrics.jsonl"):
        rows = [[json.loads(line) for line in (tmp_path / run / name).read_text().splitlines()] for run in "ab"]
        keep = [{k: v for k, v in row.items() if not k.startswith("time/")} for row in rows[0]]
        assert keep == [{k: v for k, v in row.items() if not k.startswith("time/")} for row in rows[1]], name
        assert "hacking/filler_steps" in rows[0][0]


def test_the_demo_takes_a_preset_and_its_flags_override_it_only_when_given(monkeypatch):
    from openrlhf_pure.cli import demo as demo_cli
    from openrlhf_pure.core.advantages import AdvantageConfig
    from openrlhf_pure.engines.local.demo_runs import demo_advantage, parse_run, parse_runs

    seen = []
    monkeypatch.setattr(demo_cli, "run_demo", lambda config: seen.append(config) or {})
    demo_cli.main(["--pure.preset", "authors_verl", "--temperature", "0.5"])
    demo_cli.main(["--pure.preset", "authors_openrlhf"])
    verl, openrlhf = seen
    assert (verl.preset, verl.temperature) == ("authors_verl", 0.5)
    assert demo_advantage(verl) == AdvantageConfig.preset("authors_verl").with_overrides({"credit.temperature": 0.5})
    assert demo_advantage(openrlhf) == AdvantageConfig.preset("authors_openrlhf")
    runs = parse_runs(openrlhf)
    assert [(r.name, r.mode, r.credit) for r in runs] == [("softmin", "prm_vr", "softmin"), ("sum", "prm_vr", "sum"),
                                                          ("vr", "vr", "softmin")]  # fmt: skip
    assert parse_run("sum/prm@authors_verl", "prm_vr", None).preset == "authors_verl"


def test_bad_demo_flags_are_one_line_errors_before_any_work(capsys):
    assert main(["--runs", "softmin,mean", "--held_out", "0", "--hack_rate", "0.5"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "unknown credit mode 'mean'" in errors[2] and "--held_out" in errors[0]


def check_every_folder_loads_alone_and_says_how_it_is_prompted(out):
    """The demo's models need PURE's prompt plus a blank line: every folder records it, and the CLIs use it."""
    from transformers import AutoTokenizer

    from openrlhf_pure.data.prompts import PURE_TEMPLATE, saved_prompt_format
    from openrlhf_pure.evaluation.templates import template_for_model
    from openrlhf_pure.models.prm import ProcessRewardModel

    demo_template = PURE_TEMPLATE + "\n\n"
    for name in ("policy_warmup", "prm_backbone", "runs/softmin/rl/checkpoints/step_000003/policy"):
        assert AutoTokenizer.from_pretrained(out / name)("1 + 1")["input_ids"], name
        assert saved_prompt_format(out / name).template == demo_template, name
    policy = str(out / "runs/softmin/rl/checkpoints/step_000003/policy")
    assert template_for_model("auto", policy) == demo_template  # pure-eval
    prm = ProcessRewardModel.from_pretrained(str(out / "prm" / "final"))
    assert prm.render_prompt("Compute (1 + 2) * 3.").startswith("Compute (1 + 2) * 3.\n\nPlease reason")
    data = out / "problems.jsonl"
    data.write_text('{"question": "Compute (1 + 2) * 3.", "gt_answer": "9"}\n')
    flags, _, errors = train_local.resolve(["--actor.model_name_or_path", str(out / "policy_warmup"),
                                            "--data.prompt_dataset", str(data), "--pure.reward_mode", "vr",
                                            "--output_dir", str(out / "pure_train")])  # fmt: skip
    problems, data_errors, _ = train_local.read_problems(flags)
    assert not errors and not data_errors and problems[0].prompt.endswith("within \\boxed{}.\n\n")  # pure-train
