"""SmolLM2-135M-Instruct as a PRM backbone (a new head) and as the policy of one RL step."""

from __future__ import annotations

import copy

import pytest
import torch

from openrlhf_pure.data.problems import Problem
from openrlhf_pure.engines.local.trainer import LocalTrainConfig, LocalTrainer
from openrlhf_pure.engines.prm_scorer import PRMScorer, RolloutStepScorer
from openrlhf_pure.evaluation.templates import resolve_template
from openrlhf_pure.models.prm import ProcessRewardModel


def test_a_new_prm_head_on_its_backbone_scores_each_step_of_a_response(smollm2):
    folder, _, tok = smollm2
    prm = ProcessRewardModel.from_pretrained(str(folder), step_format="pure", new_head=True)
    scorer = PRMScorer(prm, tok)
    scores, layout = scorer.score_responses(["What is 2+3?"], ["2 + 3 = 5.\n\nSo \\boxed{5}."])
    assert layout.num_steps.tolist() == [2] and scores.shape == (1, 2)
    assert torch.isfinite(scores).all() and ((scores >= -1) & (scores <= 1)).all()


@pytest.mark.slow
def test_one_rl_step_of_the_local_trainer_changes_the_policy(smollm2, tmp_path):
    folder, model, tok = smollm2
    policy = copy.deepcopy(model).train()
    prm = ProcessRewardModel.from_pretrained(str(folder), step_format="pure", new_head=True)
    config = LocalTrainConfig(mode="prm_vr", steps=1, prompts_per_step=1, samples_per_prompt=2, max_new_tokens=8,
                              micro_batch_size=2, lr=1e-5, output_dir=str(tmp_path), save_every=0)  # fmt: skip
    problems = [Problem(resolve_template("chat").render("What is 2+3?", tok), "5")]
    verifier = lambda responses, golds: [float("\\boxed{5}" in r) for r in responses]  # noqa: E731
    trainer = LocalTrainer(policy, model, tok, problems, config, RolloutStepScorer(PRMScorer(prm, tok)), verifier)
    before = [p.detach().clone() for p in policy.parameters()]
    history = trainer.train()
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0]["policy/loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters()))
