"""Rollouts with transformers generate, and log-probs of the sampled tokens."""

from __future__ import annotations

import torch

from openrlhf_pure.engines.local.log_probs import response_log_probs
from openrlhf_pure.engines.local.rollout import generate_rollouts, response_mask


def test_response_mask_keeps_tokens_up_to_the_first_eos_and_flags_truncation():
    ids = torch.tensor([[5, 6, 0, 7, 0], [5, 6, 7, 8, 9]])
    mask, truncated = response_mask(ids, eos_ids=[0])
    assert mask.tolist() == [[True, True, True, False, False], [True] * 5]
    assert truncated.tolist() == [False, True]


def test_rollouts_hold_n_samples_per_prompt_grouped_and_aligned(load_policy):
    model, tokenizer = load_policy()
    torch.manual_seed(0)
    rollout = generate_rollouts(model, tokenizer, ["Compute (1 + 2) * 3.", "Hi"], n=3, max_new_tokens=12)
    assert rollout.sequences.shape[0] == 6 and rollout.group.tolist() == [0, 0, 0, 1, 1, 1]
    assert rollout.response_ids.shape == rollout.action_mask.shape and rollout.response_width <= 12
    assert torch.equal(rollout.sequences[:, -rollout.response_width :][rollout.action_mask],
                       rollout.response_ids[rollout.action_mask])  # fmt: skip
    assert len(rollout.responses) == 6
    assert (rollout.truncated == (rollout.action_mask.sum(1) == 12)).all() or rollout.response_width < 12


def test_log_probs_do_not_depend_on_how_much_the_prompt_is_padded(load_policy):
    model, _ = load_policy()
    seq = torch.tensor([[3, 4, 5, 6, 7]])
    padded = torch.tensor([[1, 1, 3, 4, 5, 6, 7]])
    mask = torch.ones_like(seq, dtype=torch.bool)
    padded_mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1]]).bool()
    a = response_log_probs(model, seq, mask, response_width=2)
    b = response_log_probs(model, padded, padded_mask, response_width=2)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    full = torch.log_softmax(model(seq).logits[0, -3:-1], -1)
    torch.testing.assert_close(a[0], full[[0, 1], [6, 7]], atol=1e-5, rtol=1e-5)
