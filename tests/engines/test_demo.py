"""A shortened run of the built-in demo: the whole pipeline, its report and its JSON line."""

from __future__ import annotations

import json

from openrlhf_pure.cli import train_local
from openrlhf_pure.cli.demo import main


def test_a_short_demo_writes_its_report_and_ends_with_the_json_line(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["--output", str(out), "--warmup_steps", "20", "--prm_backbone_steps", "5", "--prm_steps", "4",
            "--rl_steps", "3", "--prompts_per_step", "2", "--samples_per_prompt", "2", "--max_new_tokens", "16",
            "--held_out", "8"]  # fmt: skip
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"accuracy_before", "accuracy_after", "seconds", "report"}
    assert 0.0 <= result["accuracy_before"] <= 1.0 and 0.0 <= result["accuracy_after"] <= 1.0
    for name in ("summary.md", "samples.md", "result.json", "rl/metrics.jsonl", "prm/metrics.jsonl",
                 "plots/training_dynamics.png", "prm/final/config.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert len((out / "rl" / "metrics.jsonl").read_text().splitlines()) == 3
    summary = (out / "summary.md").read_text()
    assert "before RL" in summary and '"whitening": "masked"' in summary  # the resolved advantage configuration
    assert json.loads((out / "rl" / "config.json").read_text())["advantage"]["credit"]["mode"] == "softmin"
    check_every_folder_loads_alone_and_says_how_it_is_prompted(out)


def test_the_demo_takes_a_preset_and_its_credit_flags_override_it_only_when_given(monkeypatch):
    from openrlhf_pure.cli import demo as demo_cli
    from openrlhf_pure.core.advantages import AdvantageConfig
    from openrlhf_pure.engines.local.demo import demo_advantage

    seen = []
    monkeypatch.setattr(demo_cli, "run_demo", lambda config: seen.append(config) or {})
    demo_cli.main(["--pure.preset", "authors_verl", "--temperature", "0.5"])
    demo_cli.main(["--pure.preset", "authors_openrlhf"])
    verl, openrlhf = seen
    assert (verl.preset, verl.credit, verl.temperature) == ("authors_verl", "softmin", 0.5)
    assert demo_advantage(verl) == AdvantageConfig.preset("authors_verl").with_overrides({"credit.temperature": 0.5})
    assert demo_advantage(openrlhf) == AdvantageConfig.preset("authors_openrlhf")


def check_every_folder_loads_alone_and_says_how_it_is_prompted(out):
    """The demo's models need PURE's prompt plus a blank line: every folder records it, and the CLIs use it."""
    from transformers import AutoTokenizer

    from openrlhf_pure.data.prompts import PURE_TEMPLATE, saved_prompt_format
    from openrlhf_pure.evaluation.templates import template_for_model
    from openrlhf_pure.models.prm import ProcessRewardModel

    demo_template = PURE_TEMPLATE + "\n\n"
    for name in ("policy_warmup", "prm_backbone", "rl/checkpoints/step_000003/policy"):
        assert AutoTokenizer.from_pretrained(out / name)("1 + 1")["input_ids"], name
        assert saved_prompt_format(out / name).template == demo_template, name
    assert template_for_model("auto", str(out / "rl/checkpoints/step_000003/policy")) == demo_template  # pure-eval
    prm = ProcessRewardModel.from_pretrained(str(out / "prm" / "final"))
    assert prm.render_prompt("Compute (1 + 2) * 3.").startswith("Compute (1 + 2) * 3.\n\nPlease reason")
    data = out / "problems.jsonl"
    data.write_text('{"question": "Compute (1 + 2) * 3.", "gt_answer": "9"}\n')
    flags, _, errors = train_local.resolve(["--actor.model_name_or_path", str(out / "policy_warmup"),
                                            "--data.prompt_dataset", str(data), "--pure.reward_mode", "vr",
                                            "--output_dir", str(out / "pure_train")])  # fmt: skip
    problems, data_errors, _ = train_local.read_problems(flags)
    assert not errors and not data_errors and problems[0].prompt.endswith("within \\boxed{}.\n\n")  # pure-train
