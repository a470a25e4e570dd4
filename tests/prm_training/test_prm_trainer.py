"""PRM training on a generated stepwise task whose labels are learnable."""

from __future__ import annotations

import random

import pytest
import torch

from openrlhf_pure.data.stepwise import StepwiseRow
from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.engines.prm_trainer import PRMTrainConfig, PRMTrainer
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm


def rows(seed: int, count: int) -> list[StepwiseRow]:
    """Two-step sums; a wrong step states a result far off (90 + x), so a tiny model can learn it."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        wrong = rng.random() < 0.5
        result = 90 + a if wrong else a + b
        steps = (f"First, we add: {a} + {b} = {result}.", f"The answer is \\boxed{{{result}}}.")
        labels = (not wrong, not wrong) if not wrong else (False,)
        out.append(StepwiseRow(f"Compute {a} + {b}.", steps[: len(labels)], labels))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tokenizer):
    base = tmp_path_factory.mktemp("base")
    tiny_causal_lm(len(tokenizer), seed=5).save_pretrained(base)
    tokenizer.save_pretrained(base)
    prm = ProcessRewardModel.from_pretrained(str(base), new_head=True)
    out = tmp_path_factory.mktemp("prm_run")
    config = PRMTrainConfig(output_dir=str(out), max_steps=40, rows_per_step=32, lr=3e-3, weight_decay=0.0,
                            eval_every=40, save_every=20, progress=False)  # fmt: skip
    trainer = PRMTrainer(prm, rows(0, 400), rows(1, 100), config)
    history = trainer.train()
    return trainer, history, out


def test_loss_falls_and_held_out_step_accuracy_is_well_above_chance(trained):
    _, history, _ = trained
    first = sum(m["train/loss"] for m in history[:5]) / 5
    last = sum(m["train/loss"] for m in history[-5:]) / 5
    assert last < 0.6 * first
    assert history[-1]["eval/step_accuracy"] > 0.8  # labels are balanced: chance is about 0.5


def test_the_saved_prm_reloads_with_the_same_scores(trained):
    trainer, _, out = trained
    reloaded = ProcessRewardModel.from_pretrained(str(out / "final"))
    assert reloaded.step_format.name == trainer.prm.step_format.name
    prompts, steps = ["Compute 2 + 3."], [["First, we add: 2 + 3 = 5.", "The answer is \\boxed{5}."]]
    a = PRMScorer(trainer.prm).score_steps(prompts, steps)[0]
    b = PRMScorer(reloaded).score_steps(prompts, steps)[0]
    torch.testing.assert_close(a, b)


def test_training_resumes_from_its_last_checkpoint(trained, tokenizer):
    _, history, out = trained
    prm = ProcessRewardModel.from_pretrained(str(out / "final"))
    config = PRMTrainConfig(output_dir=str(out), max_steps=40, rows_per_step=32, progress=False)
    trainer = PRMTrainer(prm, rows(0, 400), [], config)
    trainer.train(resume=True)
    assert trainer.step == 40 and len(trainer.history) == 40  # resumed at step 40: nothing left to do
    assert trainer.history[:20] == history[:20]


def test_a_value_head_prm_is_refused_by_the_cross_entropy_trainer(tmp_path, tokenizer):
    from prm_checkpoints import save_family_checkpoint

    prm = ProcessRewardModel.from_pretrained(save_family_checkpoint(tmp_path / "skywork", "skywork", tokenizer))
    with pytest.raises(ValueError, match="trains 2-class heads .* the value head gives one value"):
        PRMTrainer(prm, rows(0, 8), [], PRMTrainConfig(output_dir=str(tmp_path / "out"), progress=False))
