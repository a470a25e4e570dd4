"""``pure-train-prm`` checks everything before work starts; ``prm/`` scripts print and validate the recipe."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openrlhf_pure.cli.train_prm import SCORE_NAMES, main, split_by_prompt
from openrlhf_pure.data.stepwise import StepwiseRow, write_trl_jsonl
from openrlhf_pure.models.prm import SCORE_FUNCTIONS
from openrlhf_pure.models.tiny import tiny_causal_lm

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenizer):
    """A tiny causal LM folder and a TRL-format data file."""
    root = tmp_path_factory.mktemp("tiny")
    tiny_causal_lm(len(tokenizer), seed=3).save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    write_trl_jsonl(
        [StepwiseRow("Compute 1 + 1.", ["1 + 1 = 2.", "So \\boxed{2}."], [True, True])], root / "train.jsonl"
    )
    return root


def flags(tiny: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--model.name_or_path",
        str(tiny / "model"),
        "--data.train",
        str(tiny / "train.jsonl"),
        "--output_dir",
        str(out),
        *extra,
    ]


def test_score_names_match_the_prm_score_registry():
    assert tuple(SCORE_FUNCTIONS.names()) == SCORE_NAMES


def test_every_problem_is_reported_at_once_and_nothing_starts(tmp_path, capsys):
    argv = [
        "--model.name_or_path",
        str(tmp_path / "no_model"),
        "--data.train",
        str(tmp_path / "no.jsonl"),
        "--data.eval_fraction",
        "1.5",
        "--train.lr",
        "-1",
        "--ds.bf16",
        "--output_dir",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no_model: no such model folder" in err
    assert "no.jsonl: no such file or folder" in err
    assert "--data.eval_fraction must be in [0, 1)" in err
    assert "--train.lr must be positive" in err
    assert "--ds.bf16 needs --train.backend deepspeed" in err
    assert not (tmp_path / "out").exists()


def test_a_dry_run_accepts_hub_names_with_a_note_and_prints_the_settings(tmp_path, capsys):
    argv = [
        "--model.name_or_path",
        "Qwen/Qwen2.5-Math-7B",
        "--data.train",
        "HuggingFaceH4/prm800k-trl-dedup",
        "--output_dir",
        str(tmp_path / "out"),
        "--dry_run",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "note: --model.name_or_path Qwen/Qwen2.5-Math-7B is not a local path" in out
    settings = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert settings["train.rows_per_step"] == 128 and settings["train.adam_beta2"] == 0.95
    assert not (tmp_path / "out").exists()


def test_a_previous_run_needs_resume_or_overwrite(tiny, tmp_path, capsys):
    (tmp_path / "metrics.jsonl").write_text("")
    assert main(flags(tiny, tmp_path, "--dry_run")) == 2
    assert "holds a previous run" in capsys.readouterr().err
    assert main(flags(tiny, tmp_path, "--dry_run", "--overwrite_output_dir")) == 0
    assert main(flags(tiny, tmp_path, "--dry_run", "--train.resume")) == 0


def test_a_model_folder_without_config_is_refused(tiny, tmp_path, capsys):
    argv = [
        "--model.name_or_path",
        str(tmp_path),
        "--data.train",
        str(tiny / "train.jsonl"),
        "--output_dir",
        str(tmp_path / "out"),
        "--dry_run",
    ]
    assert main(argv) == 2
    assert "holds no config.json" in capsys.readouterr().err


def test_the_eval_fraction_holds_out_whole_prompts():
    rows = [StepwiseRow(f"problem {p}", [f"step {k}"], [k % 2 == 0]) for p in range(20) for k in range(3)]
    train, held = split_by_prompt(rows, 0.25, seed=1)
    assert len(train) + len(held) == 60 and 15 <= len(held) <= 18
    assert {r.prompt for r in train}.isdisjoint({r.prompt for r in held})
    assert split_by_prompt(rows, 0.25, seed=1) == (train, held)


def run_script(name: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(REPO / "prm" / name)], env=full_env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="the recipe validates a deepspeed run")
def test_both_recipe_scripts_print_their_launch_command_and_validate(tiny, tmp_path):
    stage1 = run_script(
        "stage1_head.sh",
        MODEL=str(tiny / "model"),
        DATA=str(tiny / "train.jsonl"),
        OUTPUT=str(tmp_path / "s1"),
        NUM_GPUS="2",
    )
    assert stage1.returncode == 0, stage1.stderr
    command = stage1.stdout.splitlines()[1]
    assert command.startswith("deepspeed --num_gpus 2 --module openrlhf_pure.cli.train_prm ")
    for piece in (
        "--train.freeze_backbone",
        "--train.lr 1e-4",
        "--train.epochs 3",
        "--train.rows_per_step 128",
        "--train.weight_decay 0.1",
        "--train.adam_beta2 0.95",
        "--ds.zero_stage 2",
        "--ds.bf16",
        "--train.gradient_checkpointing",
        "--train.backend deepspeed",
    ):
        assert piece in command
    assert "dry run: the settings are valid" in stage1.stdout
    stage2 = run_script(
        "stage2_full.sh", MODEL=str(tiny / "model"), DATA=str(tiny / "train.jsonl"), OUTPUT=str(tmp_path / "s2")
    )
    assert stage2.returncode == 0, stage2.stderr
    command = stage2.stdout.splitlines()[1]
    assert "--train.lr 1e-6" in command and "--train.epochs 1" in command and "freeze_backbone" not in command
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s2").exists()


def test_stage2_without_stage1s_output_fails_validation(tiny, tmp_path):
    done = run_script(
        "stage2_full.sh",
        MODEL=str(tmp_path / "stage1" / "final"),
        DATA=str(tiny / "train.jsonl"),
        OUTPUT=str(tmp_path / "s2"),
    )
    assert done.returncode == 2
    assert "no such model folder" in done.stderr


@pytest.mark.slow
def test_a_run_prints_no_library_noise(tiny, tmp_path):
    """No weight-loading or shard-writing bars with --log.no_progress, no colour-coded load report for the
    new head (one plain line instead), no DeepSpeed accelerator warning on save: a CLI run directly."""
    env = {k: v for k, v in os.environ.items() if k != "DS_ACCELERATOR"}
    out = tmp_path / "run"
    command = [sys.executable, "-m", "openrlhf_pure.cli.train_prm", *flags(tiny, out), "--train.max_steps", "1",
               "--train.save_every", "1", "--log.no_progress"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    for noise in ("\x1b[", "Loading weights", "Writing model shards", "accelerator", "LOAD REPORT"):
        assert noise not in printed, (noise, printed[-2000:])
    assert "its PRM head is new and untrained" in printed
    assert (out / "checkpoints" / "step_000001" / "policy" / "tokenizer.json").is_file()  # loads on its own


class RunsCode:
    """Unpickling this touches ``target``: what a crafted checkpoint would do."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return Path.touch, (self.target,)


def test_resume_refuses_a_checkpoint_that_holds_more_than_tensors(tiny, tmp_path, capsys):
    import torch

    step = tmp_path / "out" / "checkpoints" / "step_000001"
    step.mkdir(parents=True)
    (step.parent / "latest").write_text(step.name)
    torch.save({"optimizer": RunsCode(tmp_path / "ran")}, step / "trainer_state.pt")
    (step / "trainer_state.json").write_text('{"step": 1, "extra": {}}')
    assert main(flags(tiny, tmp_path / "out", "--train.resume", "--dry_run")) == 2
    assert "trainer_state.pt: refused, it holds more than tensors" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists()
