"""The whole rewards-to-advantages path: verifiable rewards, KL, masking, whitening."""

from __future__ import annotations

import math

import pytest
import torch

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages, whiten
from openrlhf_pure.core.baselines import PR_BASELINES, BaselineInputs
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.groups import group_index
from openrlhf_pure.core.kl import token_kl
from openrlhf_pure.core.returns import TOKEN_RETURNS, future_sum, place_on_closing_tokens, step_returns_to_step_rewards
from openrlhf_pure.core.steps import split_steps
from openrlhf_pure.core.verifiable import verifiable_advantage_rewards
from openrlhf_pure.core.whitening import WHITENING

PLAIN = AdvantageConfig(mask_reward_tokens=False, whiten=False, kl_coef=0.0)


def test_rloo_subtracts_the_mean_of_the_other_responses():
    """Group [1, 0, 0, 1]: 1 - 1/3 = 2/3 and 0 - 2/3 = -2/3."""
    out = verifiable_advantage_rewards(torch.tensor([1.0, 0.0, 0.0, 1.0]), torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(out, torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))


def test_rloo_skips_responses_without_ground_truth():
    """[1, absent, 0, 1]: row 0 vs mean(0, 1) = 0.5 -> 0.5; row 2 vs mean(1, 1) -> -1; row 1 gets 0."""
    out = verifiable_advantage_rewards(torch.tensor([1.0, math.nan, 0.0, 1.0]), torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(out, torch.tensor([0.5, 0.0, -1.0, 0.5]))


def test_rloo_makes_the_0_1_and_minus1_0_reward_scales_identical():
    group = group_index(4, 8)
    vr = torch.tensor([1.0, 0, 0, 1, 0, 0, 0, 1])
    torch.testing.assert_close(verifiable_advantage_rewards(vr, group), verifiable_advantage_rewards(vr - 1, group))


def test_grpo_normalises_by_group_mean_and_std():
    """[1, 0, 0, 1]: mean 0.5, std 0.5 -> [1, -1, -1, 1]."""
    out = verifiable_advantage_rewards(torch.tensor([1.0, 0, 0, 1]), torch.zeros(4, dtype=torch.long), "grpo")
    torch.testing.assert_close(out, torch.tensor([1.0, -1, -1, 1]), atol=1e-4, rtol=0)


def test_groups_given_as_ids_match_groups_given_as_a_size():
    ids = torch.tensor([5, 5, 9, 9])
    assert torch.equal(group_index(ids, 4), group_index(2, 4))
    with pytest.raises(ValueError, match="groups of 3"):
        group_index(3, 4)


@pytest.mark.parametrize(
    ("name", "expected"), [("k1", 0.5), ("k2", 0.125), ("k3", math.exp(-0.5) - 1 + 0.5)], ids=["k1", "k2", "k3"]
)
def test_kl_estimators_on_a_log_ratio_of_one_half(name, expected):
    kl = token_kl(torch.tensor([[-1.0, -1.0]]), torch.tensor([[-1.5, -1.5]]), torch.tensor([[True, False]]), name)
    torch.testing.assert_close(kl, torch.tensor([[expected, 0.0]]))


def test_kl_clamp_bounds_the_estimate_not_the_log_ratio():
    """Log-ratio -3: k3 = e^3 - 1 - 3 = 16.09, clamped to 10 (verl); log-ratio 0.5 stays below the clamp."""
    lp, ref, mask = torch.tensor([[-4.0, -1.0]]), torch.tensor([[-1.0, -1.5]]), torch.ones(1, 2, dtype=torch.bool)
    torch.testing.assert_close(token_kl(lp, ref, mask, "k3"), torch.tensor([[math.exp(3) - 4, math.exp(-0.5) - 0.5]]))
    torch.testing.assert_close(token_kl(lp, ref, mask, "k3", clamp=10.0), torch.tensor([[10.0, math.exp(-0.5) - 0.5]]))


def test_raw_verifiable_rewards_keep_their_value_and_absent_ones_give_zero():
    vr, group = torch.tensor([1.0, math.nan, 0.0, 1.0]), torch.zeros(4, dtype=torch.long)
    out = verifiable_advantage_rewards(vr, group, "none")
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 0.0, 1.0]))


def test_running_min_returns_run_over_every_token_and_the_padding_of_short_responses():
    """Token rewards [0.5, 0, 0.3]: running minimum [0, 0, 0.3]; a response shorter than N also
    meets the zeros of its padding: [0, 0, 0]. Rewards [0.5, -0.2, 0.3]: [-0.2, -0.2, 0.3] or [-0.2, -0.2, 0]."""
    rewards = torch.tensor([[0.5, 0.0, 0.3], [0.5, -0.2, 0.3]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    full = TOKEN_RETURNS.get("running_min")(rewards, mask, 3)
    short = TOKEN_RETURNS.get("running_min")(rewards, mask, 4)
    torch.testing.assert_close(full, torch.tensor([[0.0, 0.0, 0.3], [-0.2, -0.2, 0.3]]))
    torch.testing.assert_close(short, torch.tensor([[0.0, 0.0, 0.0], [-0.2, -0.2, 0.0]]))


def test_nonzero_mean_whitening_drops_kept_tokens_whose_value_is_exactly_zero():
    """[2, 0 (kept, exactly 0), 4 | 0 masked]: mean over [2, 4] = 3; var = (1 + 9 + 1 + 9) / 2 = 10;
    the zero stays 0. The default whitening counts the kept zero: mean 2, var 8 / 3."""
    values, keep = torch.tensor([[2.0, 0.0, 4.0, 0.0]]), torch.tensor([[True, True, True, False]])
    valid = torch.ones_like(keep)
    out = WHITENING.get("nonzero_mean")(values, keep, valid, 1e-8)
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]) / math.sqrt(10))
    out = WHITENING.get("masked")(values, keep, valid, 0.0)
    torch.testing.assert_close(out, torch.tensor([[0.0, -2.0, 2.0, 0.0]]) / math.sqrt(8 / 3))


def test_verifiable_reward_sits_on_the_last_valid_token_whatever_the_padding():
    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0]]).bool()
    result = compute_advantages(mask, PLAIN, verifiable_rewards=torch.tensor([1.0, 0.0]), groups=2)
    torch.testing.assert_close(result.token_rewards, torch.tensor([[0.0, 0, 0, 1], [0, -1, 0, 0]]))
    torch.testing.assert_close(result.advantages, torch.tensor([[0.0, 1, 1, 1], [-1, -1, 0, 0]]))


def test_kl_penalty_is_subtracted_from_every_token_reward():
    mask = torch.ones(1, 3, dtype=torch.bool)
    lp, ref = torch.tensor([[-1.0, -2.0, -1.0]]), torch.tensor([[-1.5, -2.0, -0.5]])
    config = AdvantageConfig(mask_reward_tokens=False, whiten=False, kl_coef=0.1)
    result = compute_advantages(mask, config, verifiable_rewards=torch.tensor([1.0]), log_probs=lp, ref_log_probs=ref)
    torch.testing.assert_close(result.token_rewards, torch.tensor([[-0.05, 0.0, 1.05]]))  # VR alone in group: 1


def example_batch():
    ids = torch.tensor([[7, 1, 7, 7, 1, 7], [7, 7, 1, 7, 0, 0], [7, 1, 1, 7, 7, 0], [7, 7, 7, 7, 7, 7]])
    mask = ids != 0
    layout = split_steps(ids, mask, torch.tensor([1]))
    rewards = torch.tensor([[0.9, -0.3, 0.5], [0.2, 0.8, 0], [0.7, 0.1, 0.6], [0.4, 0, 0]])
    return mask, layout, rewards


def test_the_process_path_composes_credit_coefficient_and_baseline():
    mask, layout, rewards = example_batch()
    config = AdvantageConfig(pr_coef=2.0, mask_reward_tokens=False, whiten=False, kl_coef=0.0)
    result = compute_advantages(mask, config, layout=layout, step_rewards=rewards, groups=4)
    process = (
        step_returns_to_step_rewards(step_returns(rewards, layout.step_mask, CreditConfig()), layout.step_mask) * 2
    )
    corrected = PR_BASELINES.get("token")(BaselineInputs(process, layout, torch.zeros(4, dtype=torch.long), 6))
    expected = place_on_closing_tokens(corrected, layout)
    torch.testing.assert_close(result.token_rewards, expected)
    torch.testing.assert_close(result.returns, future_sum(expected) * mask)
    torch.testing.assert_close(result.process_reward, process.sum(1))


def test_masking_zeroes_advantages_exactly_on_reward_carrying_tokens():
    mask, layout, rewards = example_batch()
    vr = torch.tensor([1.0, 0, 1, 0])
    result = compute_advantages(mask, layout=layout, step_rewards=rewards, verifiable_rewards=vr, groups=4)
    carriers = layout.closing_mask | layout.last_token_mask()
    assert (result.advantages[carriers] == 0).all()
    assert torch.equal(result.advantage_mask, mask & ~carriers)
    unmasked = compute_advantages(
        mask,
        AdvantageConfig(mask_reward_tokens=False),
        layout=layout,
        step_rewards=rewards,
        verifiable_rewards=vr,
        groups=4,
    )
    assert (unmasked.advantages[carriers] != 0).any()


def test_whitened_advantages_have_zero_mean_and_unit_std_over_their_tokens():
    mask, layout, rewards = example_batch()
    result = compute_advantages(mask, layout=layout, step_rewards=rewards, groups=2)
    values = result.advantages[result.advantage_mask]
    assert abs(float(values.mean())) < 1e-5
    assert abs(float(values.std(unbiased=False)) - 1) < 1e-3
    assert (result.advantages[~result.advantage_mask] == 0).all()


def test_whiten_ignores_masked_entries():
    values = torch.tensor([[1.0, 3.0, 100.0]])
    torch.testing.assert_close(whiten(values, torch.tensor([[True, True, False]])), torch.tensor([[-1.0, 1.0, 0.0]]))


def test_inputs_that_cannot_work_get_clear_errors():
    mask, layout, rewards = example_batch()
    with pytest.raises(ValueError, match="need process step rewards, verifiable rewards, or both"):
        compute_advantages(mask)
    with pytest.raises(ValueError, match="step layout"):
        compute_advantages(mask, step_rewards=rewards)
    with pytest.raises(ValueError, match=r"verifiable rewards have shape \(3,\) but the batch has 4"):
        compute_advantages(mask, verifiable_rewards=torch.ones(3), groups=4)
    with pytest.raises(ValueError, match="both log_probs and ref_log_probs"):
        compute_advantages(mask, verifiable_rewards=torch.ones(4), groups=4, log_probs=torch.zeros(4, 6))
    with pytest.raises(ValueError, match=r"step rewards has shape \(4, 2\) but step mask has shape \(4, 3\)"):
        compute_advantages(mask, layout=layout, step_rewards=rewards[:, :2], groups=4)
    with pytest.raises(ValueError, match="unknown process-reward baseline"):
        AdvantageConfig(pr_baseline="mean")
