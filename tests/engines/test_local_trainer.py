"""The single-process trainer: modes, visible answers, checkpoints and exact resume."""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch

from openrlhf_pure.data.problems import Problem, choose_visible
from openrlhf_pure.engines.checkpoint import CheckpointError, latest_checkpoint
from openrlhf_pure.engines.local.trainer import LocalTrainConfig, LocalTrainer

PROBLEMS = [Problem(f"Compute ({a} + {a + 1}) * 2.\n\n", str((2 * a + 1) * 2)) for a in range(12)]


def boxed_verifier(responses, golds):
    """1.0 when the last \\boxed{} equals the gold, 0.0 otherwise, None without a gold."""
    found = [re.findall(r"\\boxed\{([^}]*)\}", r) for r in responses]
    return [None if g is None else float(bool(f) and f[-1] == g) for f, g in zip(found, golds)]


def length_scorer(prompts, rollout, layout):
    """Deterministic step scores in [-1, 1] that depend on each step's length."""
    return torch.where(layout.step_mask, torch.cos(layout.step_tokens.float()), torch.zeros(()))


def make_trainer(load_policy, tmp_path, **overrides):
    policy, tokenizer = load_policy()
    settings = {"steps": 4, "prompts_per_step": 2, "samples_per_prompt": 3, "max_new_tokens": 12,
                "output_dir": str(tmp_path), "micro_batch_size": 4, "lr": 1e-3}  # fmt: skip
    settings.update(overrides)
    config = LocalTrainConfig(**settings)
    problems = overrides.pop("problems", None) or choose_visible(PROBLEMS, 0.5, seed=0)
    return LocalTrainer(policy, copy.deepcopy(policy), tokenizer, problems, config, length_scorer, boxed_verifier)


def comparable(history):
    return [{k: v for k, v in m.items() if not k.startswith("time/")} for m in history]


def test_a_resumed_run_reproduces_the_uninterrupted_run_exactly(load_policy, tmp_path):
    full = make_trainer(load_policy, tmp_path / "full").train()
    make_trainer(load_policy, tmp_path / "cut", steps=2, save_every=2).train()  # "killed" after step 2
    resumed_trainer = make_trainer(load_policy, tmp_path / "cut")
    resumed = resumed_trainer.train(resume=True)
    assert len(full) == len(resumed) == 4
    assert comparable(resumed) == comparable(full)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # the resumed run appended steps 3 and 4 to the first run's log


def test_training_changes_the_policy_and_logs_every_step(load_policy, tmp_path):
    trainer = make_trainer(load_policy, tmp_path, steps=2)
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    history = trainer.train()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters()))
    assert {"policy/loss", "policy/grad_norm", "policy/kl", "steps/mean", "reward/process"} <= set(history[-1])
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_hidden_answers_give_no_verifiable_reward_but_still_count_for_accuracy(load_policy, tmp_path):
    trainer = make_trainer(load_policy, tmp_path)
    problems = [PROBLEMS[0], Problem(PROBLEMS[1].prompt, PROBLEMS[1].answer, visible=False)]
    rollout_like = type("R", (), {"responses": ["\\boxed{2}"] * 3 + ["\\boxed{6}"] * 3})()
    trainer.config.mode = "vr"
    _, vr, correct = trainer.rewards(problems, rollout_like, None)
    assert vr.tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # PURE-VR: every answer is used
    trainer.config.mode = "prm_vr"
    trainer.step_scorer = lambda *a: None
    _, vr, correct = trainer.rewards(problems, rollout_like, None)
    assert vr[:3].tolist() == [1.0] * 3 and all(math.isnan(v) for v in vr[3:].tolist())
    assert correct.tolist() == [1.0] * 6


def test_a_crash_while_saving_keeps_the_previous_checkpoint(load_policy, tmp_path, monkeypatch):
    trainer = make_trainer(load_policy, tmp_path, steps=1)
    trainer.train()
    first = trainer.save()
    trainer.step = 2

    def failing_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save()
    assert latest_checkpoint(tmp_path / "checkpoints") == first
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if not p.name.startswith(".")) == [
        "latest",
        first.name,
    ]


class RunsCode:
    """Unpickling this touches ``target``: what a crafted checkpoint would do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return type(self.target).touch, (self.target,)


def test_resume_loads_tensors_only_so_a_crafted_checkpoint_runs_no_code(load_policy, tmp_path):
    trainer = make_trainer(load_policy, tmp_path, steps=1)
    trainer.train()  # a real checkpoint of step 1: weights, tokenizer, trainer_state.pt/.json
    folder = latest_checkpoint(tmp_path / "checkpoints")
    state = torch.load(folder / "trainer_state.pt", weights_only=True)  # what is stored loads safely
    assert set(state) == {"optimizer", "scheduler", "rng"}
    marker = tmp_path / "code_ran"
    torch.save({**state, "optimizer": RunsCode(marker)}, folder / "trainer_state.pt")
    resumed = make_trainer(load_policy, tmp_path, steps=2)
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt: refused"):
        resumed.train(resume=True)
    assert not marker.exists() and resumed.step == 0


@pytest.mark.parametrize(("mode", "missing"), [("prm", "step scorer"), ("vr", "verifier")])
def test_modes_refuse_to_start_without_their_reward_source(load_policy, tmp_path, mode, missing):
    policy, tokenizer = load_policy()
    config = LocalTrainConfig(mode=mode, output_dir=str(tmp_path))
    with pytest.raises(ValueError, match=missing):
        LocalTrainer(policy, None, tokenizer, PROBLEMS, config)


def test_visible_draw_is_deterministic_and_exact():
    a, b = choose_visible(PROBLEMS, 0.25, seed=3), choose_visible(PROBLEMS, 0.25, seed=3)
    assert [p.visible for p in a] == [p.visible for p in b] and sum(p.visible for p in a) == 3
    assert [p.visible for p in choose_visible(PROBLEMS, 0.25, seed=4)] != [p.visible for p in a]
