"""The command line of ``train_pure_ray``: OpenRLHF's flags unchanged, PURE's added, one message per problem.

Parity is checked against an independent extraction: OpenRLHF's module run as ``__main__`` in a
subprocess with ``parse_args`` trapped (``dump_openrlhf_flags.py``), compared flag by flag (names,
dest, action, default, type, choices, nargs, const, required, help).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from openrlhf_pure.cli.train_pure_ray import main, resolve
from openrlhf_pure.engines.openrlhf.args import build_openrlhf_parser, build_parser

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dump_openrlhf_flags import describe  # noqa: E402

PURE_OPTION = ("--pure.", "--dry_run")


def timeless(flag: dict) -> dict:
    """The flag with a clock-time default (``--logger.wandb.run_name``: ppo_MMDDTHH:MM) made comparable."""
    return dict(flag, default=re.sub(r"\d{4}T\d{2}:\d{2}", "<now>", flag["default"]))


def flag_differences(reference: list[dict], ours: list[dict]) -> list[str]:
    """Human-readable differences between two flag lists (empty: identical)."""
    reference, ours = [timeless(f) for f in reference], [timeless(f) for f in ours]
    by_options = {tuple(f["options"]): f for f in ours}
    problems = []
    for flag in reference:
        mine = by_options.get(tuple(flag["options"]))
        if mine is None:
            problems.append(f"missing: {flag['options']}")
        elif mine != flag:
            changed = sorted(k for k in flag if flag[k] != mine[k])
            problems.append(f"differs: {flag['options']} in {changed}")
    return problems


# What the checks read of a model folder: a config.json (a PRM's names its family); nothing is loaded.
MODEL_CONFIG = '{"architectures": ["Qwen2ForTokenClassification"], "pure_prm": {"step_format": "pure"}}'


@pytest.fixture(scope="module")
def reference_flags():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE / "stubs"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, str(HERE / "dump_openrlhf_flags.py")], capture_output=True, text=True,
                         env=env, timeout=300, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_openrlhf_flag_is_accepted_unchanged(reference_flags):
    ours = [describe(a) for a in build_parser()._actions]
    assert len(reference_flags) > 150
    assert flag_differences(reference_flags, ours) == []
    reference_options = {tuple(f["options"]) for f in reference_flags}
    extra = [f["options"] for f in ours if tuple(f["options"]) not in reference_options]
    assert extra and all(option.startswith(PURE_OPTION) for options in extra for option in options)


def test_parity_check_detects_a_missing_or_changed_flag(reference_flags):
    ours = [describe(a) for a in build_openrlhf_parser()._actions]
    assert flag_differences(reference_flags, ours) == []
    changed = [dict(f, default="'other'") if f["dest"] == "rollout.temperature" else f for f in ours]
    assert flag_differences(reference_flags, changed) == ["differs: ['--rollout.temperature'] in ['default']"]
    assert flag_differences(reference_flags, ours[:-1]) == [f"missing: {reference_flags[-1]['options']}"]


@pytest.fixture
def paths(tmp_path):
    model, data = tmp_path / "model", tmp_path / "data.jsonl"
    model.mkdir()
    (model / "config.json").write_text(MODEL_CONFIG)
    rows = [{"prompt": "1 + 1?", "label": {"gt_answer": "2", "pure_vr_answer_visible": i == 0}} for i in range(2)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return {"model": str(model), "data": str(data)}


def valid_argv(paths):
    return [
        "--actor.model_name_or_path", paths["model"], "--pure.prm.model_name_or_path", paths["model"],
        "--data.prompt_dataset", paths["data"], "--data.input_key", "prompt", "--data.label_key", "label",
        "--vllm.num_engines", "8", "--algo.advantage.estimator", "rloo",
        "--rollout.n_samples_per_prompt", "8", "--rollout.batch_size", "64", "--train.batch_size", "512",
    ]  # fmt: skip


def test_valid_configuration_resolves_with_openrlhf_normalisation(paths):
    args, errors = resolve([*valid_argv(paths), "--pure.step_separator", "\\n\\n", "--pure.mask_reward_tokens", "no"])
    assert errors == []
    assert args.actor.eps_clip_low_high == (0.2, 0.2)  # filled in by OpenRLHF's own post-parse block
    assert args.pure.step_separator == "\n\n" and args.pure.mask_reward_tokens is False
    assert args.pure.credit.mode == "softmin" and args.pure.credit.temperature == 0.1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--train.micro_batch_size", "3"], "--train.batch_size 512 must be divisible by --train.micro_batch_size"),
        (["--rollout.batch_size", "60"], "must be divisible by --train.batch_size 512"),
        (["--algo.advantage.estimator", "gae"], "--algo.advantage.estimator gae is not supported"),
        (["--rollout.n_samples_per_prompt", "1", "--train.batch_size", "64"], "n_samples_per_prompt must be >= 2"),
        (["--pure.prm.model_name_or_path", "/nonexistent/prm"], "/nonexistent/prm: no such model folder"),
        (["--vllm.num_engines", "0"], "--vllm.num_engines must be >= 1"),
        (["--pure.prm.colocate"], "--pure.prm.colocate needs --train.colocate_actor_ref"),
        (["--train.colocate_all", "--pure.prm.colocate", "--pure.prm.num_gpus_per_replica", "0.5"], "does not fit"),
        (["--pure.prm.num_gpus_per_replica", "2"], "--pure.prm.num_gpus_per_replica must lie in [0, 1]"),
        (["--train.colocate_all", "--vllm.num_engines", "4"], "--train.colocate_all needs vLLM GPUs"),
        (["--pure.credit.temperature", "0"], "credit temperature must be > 0"),
        (["--pure.vr.visible_fraction", "1.5"], "--pure.vr.visible_fraction must lie in [0, 1]"),
        (["--reward.model_name_or_path", "rm"], "--reward.model_name_or_path is not supported"),
        (["--reward.remote_url", "http://rm:5000"], "only a reward-function file (for --eval.dataset)"),
        (["--eval.dataset", "math500"], "add --reward.remote_url openrlhf_pure/integrations/openrlhf_reward_func.py"),
        (["--critic.model_name_or_path", "c"], "--critic.model_name_or_path is not supported"),
        (["--train.async_enable"], "--train.async_enable is not supported"),
        (["--rollout.max_new_tokens", "4096"], "--data.max_len 2048 (prompt + response) must exceed"),
        (["--pure.prm.max_length", "0"], "--pure.prm.max_length must be >= 1"),
        (["--pure.gpu_memory_gb", "0"], "--pure.gpu_memory_gb must be > 0"),
    ],
)
def test_invalid_combination_gets_one_clear_message(paths, flags, message):
    _, errors = resolve([*valid_argv(paths), *flags])
    assert len(errors) == 1 and message in errors[0], errors


def test_a_prm_folder_no_family_rule_places_is_one_error_naming_the_family_flag(paths, tmp_path):
    prm = tmp_path / "causal_lm"
    prm.mkdir()
    (prm / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    _, errors = resolve([*valid_argv(paths), "--pure.prm.model_name_or_path", str(prm)])
    assert len(errors) == 1 and "['LlamaForCausalLM']" in errors[0] and "Set --pure.prm.family" in errors[0]
    args, errors = resolve([*valid_argv(paths), "--pure.prm.model_name_or_path", str(prm), "--pure.prm.family",
                            "rlhflow", "--pure.prm.score_transform", "none"])  # fmt: skip
    assert errors == [] and (args.pure.prm.family, args.pure.prm.score_transform) == ("rlhflow", "none")


def test_evaluation_runs_with_the_projects_reward_function(paths):
    reward = "openrlhf_pure/integrations/openrlhf_reward_func.py"
    args, errors = resolve([*valid_argv(paths), "--eval.dataset", paths["data"], "--reward.remote_url", reward])
    assert errors == [] and args.reward.remote_url == [reward]  # OpenRLHF's normalisation made it a list


def test_vr_mode_needs_no_prm(paths):
    argv = valid_argv(paths)
    at = argv.index("--pure.prm.model_name_or_path")
    without_prm = argv[:at] + argv[at + 2 :]
    assert resolve([*without_prm, "--pure.reward_mode", "vr"])[1] == []
    assert resolve(without_prm)[1] == ["--pure.prm.model_name_or_path is required"]


def test_dry_run_prints_the_plan_and_starts_nothing(paths, capsys):
    assert main([*valid_argv(paths), "--dry_run"]) == 0
    out = capsys.readouterr().out
    plan = json.loads(out[: out.rindex("}") + 1])["placement"]
    assert plan["total_gpus"] == 8 + 8 + 8 + 1  # actor, reference, vLLM, one PRM replica
    assert "dry run: configuration is valid" in out
    assert main([*valid_argv(paths), "--train.micro_batch_size", "3", "--dry_run"]) == 2
    assert "1 problem(s)" in capsys.readouterr().err


@pytest.fixture(scope="module")
def qwen_math_shape(tmp_path_factory):
    """A config of Qwen2.5-Math-1.5B's shape (4,096 positions), saved without weights; its parameter count."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    folder = tmp_path_factory.mktemp("qwen_math_shape")
    config = Qwen2Config(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096,
                         tie_word_embeddings=True)  # fmt: skip
    config.save_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return str(folder), sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.model.parameters())


def test_dry_run_estimates_one_colocated_gpu_and_warns_when_it_cannot_fit(paths, qwen_math_shape, capsys):
    folder, params, backbone = qwen_math_shape
    argv = [*valid_argv(paths), "--actor.model_name_or_path", folder, "--pure.prm.model_name_or_path", folder,
            "--actor.num_gpus_per_node", "2", "--ref.num_gpus_per_node", "2", "--vllm.num_engines", "2",
            "--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep", "--ds.zero_stage", "2",
            "--vllm.gpu_memory_utilization", "0.5", "--pure.prm.colocate", "--pure.prm.num_replicas", "2",
            "--pure.prm.num_gpus_per_replica", "0.2", "--rollout.max_new_tokens", "3072", "--data.max_len", "4096",
            "--train.micro_batch_size", "2", "--pure.prm.family", "pure", "--dry_run"]  # fmt: skip
    assert main([*argv, "--pure.gpu_memory_gb", "80"]) == 0
    out = capsys.readouterr().out
    memory = json.loads(out[: out.rindex("}") + 1])["placement"]["memory"]
    assert memory["parameters"] == {"actor": params, "prm": backbone} and 1.5e9 < params < 1.6e9
    gib = memory["per_gpu"]["gib"]
    expected = {
        "actor_weights": params * 2,
        "actor_gradients": params * 2 / 2,
        "actor_adam": params * 12 / 2,
        "reference": params * 2,
        "prm": backbone * 2,
    }  # bf16, ZeRO-2 over 2 ranks, one PRM per GPU
    assert {k: gib[k] for k in expected} == {k: round(v / 2**30, 3) for k, v in expected.items()} and gib["vllm"] == 40
    phases = memory["per_gpu"]["phases_gib"]
    assert memory["per_gpu"]["peak_phase"] == "generation"  # vLLM's half GPU beside the bf16 weights
    assert phases["generation"] == pytest.approx(40 + gib["actor_weights"] + gib["reference"] + gib["prm"], abs=2e-3)
    assert "warning:" not in out

    assert main([*argv, "--pure.gpu_memory_gb", "24"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "does not fit 24 GB (--pure.gpu_memory_gb)" in warnings[0]

    assert main([*argv, "--data.max_len", "5120"]) == 0  # prompts of up to 2,048 tokens and 3,072 generated
    out = capsys.readouterr().out
    assert "more than the PRM's context of 4096" in out and "--pure.prm.overflow truncate applies" in out


def test_a_preset_sets_every_advantage_flag_not_given_and_given_flags_override_it(paths, capsys):
    from openrlhf_pure.core.advantages import AdvantageConfig

    args, errors = resolve([*valid_argv(paths), "--pure.preset", "authors_verl"])
    assert errors == []
    assert (args.algo.kl.estimator, args.algo.kl.init_coef, args.pure.vr.estimator) == ("k3", 1e-3, "none")
    expected = AdvantageConfig.preset("authors_verl").with_overrides({"max_len": args.rollout.max_new_tokens})
    assert args.pure.advantage == expected.to_dict()
    args, errors = resolve([*valid_argv(paths), "--pure.preset", "authors_verl", "--algo.kl.estimator", "k1",
                            "--pure.whiten", "false", "--pure.credit.temperature=0.5"])  # fmt: skip
    assert errors == []
    overridden = expected.with_overrides({"kl_estimator": "k1", "whiten": False, "credit.temperature": 0.5})
    assert args.pure.advantage == overridden.to_dict()
    args, _ = resolve(valid_argv(paths))  # no preset: OpenRLHF's defaults and the estimator mapping, as before
    assert (args.algo.kl.init_coef, args.pure.advantage["vr_estimator"]) == (0.01, "rloo")
    capsys.readouterr()  # OpenRLHF's normalisation prints warnings
    assert main([*valid_argv(paths), "--pure.preset", "authors_openrlhf", "--algo.advantage.estimator", "group_norm",
                 "--dry_run"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    config = json.loads(out[: out.rindex("}") + 1])["config"]
    assert config["pure"]["advantage"]["whitening"] == "nonzero_mean"
    assert "--algo.advantage.estimator does not change it (give --pure.vr.estimator grpo)" in out


def test_every_problem_is_reported_at_once_data_rows_included(paths, tmp_path):
    data = tmp_path / "bad.jsonl"
    label = {"gt_answer": "2", "pure_vr_answer_visible": True}
    data.write_text(f'{json.dumps({"prompt": "1 + 1?", "label": label})}\n{{oops\n'
                    f'{json.dumps({"question": "2 + 2?", "label": label})}\n')  # fmt: skip
    argv = valid_argv(paths)
    argv[argv.index(paths["data"])] = str(data)
    _, errors = resolve([*argv, "--algo.advantage.estimator", "gae", "--train.micro_batch_size", "3"])
    assert any("--algo.advantage.estimator gae is not supported" in e for e in errors)  # a raw-argument check
    assert any("must be divisible by --train.micro_batch_size" in e for e in errors)  # a later check, same run
    assert any(e.startswith(f"{data}:2: not valid JSON") for e in errors)
    assert any(e.startswith(f"{data}:3: field 'prompt' must be a non-empty string") for e in errors)


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("", [], "no problems (the file is empty)"),
        ('{"prompt": "1 + 1?", "label": "2"}\n', [], "no row has the visibility field 'label.pure_vr_answer_visible'"),
        ('{"prompt": "1 + 1?", "label": {"answer": "2"}}\n', ["--pure.vr.visible_fraction", "0.1"],
         "no row has field 'label.gt_answer'"),
        ('{"prompt": "1 + 1?"}\n', ["--data.label_key", ""], "needs the answers: give --data.label_key"),
    ],
)  # fmt: skip
def test_the_prompt_data_is_read_and_checked(paths, tmp_path, text, flags, message):
    data = tmp_path / "rows.jsonl"
    data.write_text(text)
    argv = valid_argv(paths)
    argv[argv.index(paths["data"])] = str(data)
    _, errors = resolve([*argv, *flags])
    assert len(errors) == 1 and message in errors[0], errors


def test_dry_run_ends_with_a_short_human_summary(paths, capsys):
    assert main([*valid_argv(paths), "--dry_run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = [line for line in lines[lines.index("}") + 1 :] if line.startswith("summary: ")]
    assert summary[0].startswith("summary: mode prm_vr, credit softmin")
    assert any(line.endswith("2 problems, 2 with an answer, 1 visible to the verifiable reward") for line in summary)
    assert lines[-1] == "dry run: configuration is valid; nothing was started"
