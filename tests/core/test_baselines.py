"""Process-reward baselines, each on one small group worked out by hand.

The group (separator token id 1, credit mode "sum" so that each step's token reward is its
step reward r_k):

    row 0: tokens [7 1 | 7 7]   steps of 2 and 2 tokens, r = [0.4, 0.2]  -> R0 = 0.6, L0 = 4, S0 = 2
    row 1: tokens [7 7 7] + pad one step of 3 tokens,   r = [0.6]       -> R1 = 0.6, L1 = 3, S1 = 1
"""

from __future__ import annotations

import pytest
import torch

from openrlhf_pure.core.baselines import PR_BASELINES, STEP_TOKEN_COUNTS, BaselineInputs
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.returns import future_sum, place_on_closing_tokens, step_returns_to_step_rewards
from openrlhf_pure.core.steps import split_steps

IDS = torch.tensor([[7, 1, 7, 7], [7, 7, 7, 0]])
MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]).bool()
LAYOUT = split_steps(IDS, MASK, torch.tensor([1]))
STEP_REWARDS = torch.tensor([[0.4, 0.2], [0.6, 0.0]])


def corrected(name, group=(0, 0), max_len=10):
    """Baseline-corrected rewards, placed back on the tokens: (2, 4)."""
    returns = step_returns(STEP_REWARDS, LAYOUT.step_mask, CreditConfig(mode="sum"))
    per_step = step_returns_to_step_rewards(returns, LAYOUT.step_mask)
    inputs = BaselineInputs(per_step, LAYOUT, torch.tensor(group), max_len)
    return place_on_closing_tokens(PR_BASELINES.get(name)(inputs), LAYOUT)


def test_none_leaves_the_step_rewards_on_their_closing_tokens():
    expected = torch.tensor([[0.0, 0.4, 0.0, 0.2], [0.0, 0.0, 0.6, 0.0]])
    torch.testing.assert_close(corrected("none"), expected)


def test_token_baseline_charges_each_step_the_others_reward_per_token():
    """b0 = R1 / L1 = 0.6 / 3 = 0.2: steps become 0.4 - 0.2*2 = 0.0 and 0.2 - 0.2*2 = -0.2.
    b1 = R0 / L0 = 0.6 / 4 = 0.15: the step becomes 0.6 - 0.15*3 = 0.15."""
    expected = torch.tensor([[0.0, 0.0, 0.0, -0.2], [0.0, 0.0, 0.15, 0.0]])
    torch.testing.assert_close(corrected("token"), expected)


def test_max_len_baseline_lowers_every_token_return_by_the_others_mean_return_over_n():
    """Token returns: row 0 [0.6, 0.6, 0.2, 0.2] (sum 1.6), row 1 [0.6, 0.6, 0.6] (sum 1.8).
    With N = 10 and n - 1 = 1: b0 = 1.8 / 10 = 0.18, b1 = 1.6 / 10 = 0.16."""
    out = corrected("max_len")
    torch.testing.assert_close(future_sum(out)[0], torch.tensor([0.42, 0.42, 0.02, 0.02]))
    torch.testing.assert_close(future_sum(out)[1, :3], torch.tensor([0.44, 0.44, 0.44]))


def test_step_baseline_charges_each_step_the_others_reward_per_step():
    """b0 = R1 / S1 = 0.6: steps 0.4 - 0.6 = -0.2, 0.2 - 0.6 = -0.4.  b1 = R0 / S0 = 0.3: 0.6 - 0.3 = 0.3."""
    expected = torch.tensor([[0.0, -0.2, 0.0, -0.4], [0.0, 0.0, 0.3, 0.0]])
    torch.testing.assert_close(corrected("step"), expected)


def test_token_baseline_without_closing_tokens_charges_one_token_less_per_step():
    """The authors' count: b0 = 0.2 charged for 1 + 1 tokens: 0.4 - 0.2 = 0.2, 0.2 - 0.2 = 0.0.
    b1 = 0.15 charged for 2 of its 3 tokens: 0.6 - 0.3 = 0.3."""
    returns = step_returns(STEP_REWARDS, LAYOUT.step_mask, CreditConfig(mode="sum"))
    per_step = step_returns_to_step_rewards(returns, LAYOUT.step_mask)
    charged = STEP_TOKEN_COUNTS.get("without_closing")(LAYOUT)
    assert charged.tolist() == [[1, 1], [2, 0]]
    out = PR_BASELINES.get("token")(BaselineInputs(per_step, LAYOUT, torch.tensor([0, 0]), 10, charged))
    torch.testing.assert_close(out, torch.tensor([[0.2, 0.0], [0.3, 0.0]]))


def test_step_mean_baseline_averages_the_others_per_step_rewards_instead_of_pooling_them():
    """Three responses, R = [0.6, 0.6, 0.3] over S = [2, 1, 3] steps. For row 0:
    pooled ("step"): (0.6 + 0.3) / (1 + 3) = 0.225; mean of ratios ("step_mean"): (0.6 + 0.1) / 2 = 0.35."""
    ids = torch.tensor([[7, 1, 7], [7, 7, 7], [1, 1, 7]])
    layout = split_steps(ids, ids != 0, torch.tensor([1]))
    rewards = torch.tensor([[0.4, 0.2, 0.0], [0.6, 0.0, 0.0], [0.1, 0.1, 0.1]])
    inputs = BaselineInputs(rewards, layout, torch.zeros(3, dtype=torch.long), 10)
    pooled, mean = PR_BASELINES.get("step")(inputs), PR_BASELINES.get("step_mean")(inputs)
    torch.testing.assert_close(rewards[0, :2] - pooled[0, :2], torch.tensor([0.225, 0.225]))
    torch.testing.assert_close(rewards[0, :2] - mean[0, :2], torch.tensor([0.35, 0.35]))


@pytest.mark.parametrize("name", ["token", "max_len", "step", "step_mean"])
def test_a_response_alone_in_its_group_gets_no_baseline(name):
    torch.testing.assert_close(corrected(name, group=(0, 1)), corrected("none"))


def test_unknown_baseline_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: max_len, none, step, step_mean, token"):
        PR_BASELINES.get("value")
