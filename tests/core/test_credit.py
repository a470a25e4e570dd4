"""Credit assignment modes, worked by hand on small cases."""

from __future__ import annotations

import math

import pytest
import torch

from openrlhf_pure.core.credit import CREDIT_MODES, CreditConfig, softmin_weights, step_returns
from openrlhf_pure.core.returns import future_sum, step_returns_to_token_rewards
from openrlhf_pure.core.steps import split_steps

R = torch.tensor([[0.5, -0.2, 0.9]])
FULL = torch.ones(1, 3, dtype=torch.bool)


def returns(mode, rewards=R, mask=FULL, **kw):
    return step_returns(rewards, mask, CreditConfig(mode=mode, **kw))


def test_registry_holds_the_four_modes_and_rejects_others():
    assert CREDIT_MODES.names() == ["sum", "min", "softmin", "future_min"]
    with pytest.raises(ValueError, match="unknown credit mode 'max'.*future_min, min, softmin, sum"):
        CreditConfig(mode="max")


def test_sum_form_is_the_sum_of_future_rewards():
    """G = [0.5 - 0.2 + 0.9, -0.2 + 0.9, 0.9] = [1.2, 0.7, 0.9]."""
    torch.testing.assert_close(returns("sum"), torch.tensor([[1.2, 0.7, 0.9]]))


def test_sum_form_discounts_with_gamma():
    """gamma = 0.5: G3 = 0.9, G2 = -0.2 + 0.45 = 0.25, G1 = 0.5 + 0.125 = 0.625."""
    torch.testing.assert_close(returns("sum", gamma=0.5), torch.tensor([[0.625, 0.25, 0.9]]))


def test_min_form_credits_the_worst_step_up_to_itself_and_zero_after():
    """argmin is step 2 (-0.2): G = [-0.2, -0.2, 0] (PURE Eq. 3)."""
    torch.testing.assert_close(returns("min"), torch.tensor([[-0.2, -0.2, 0.0]]))


def test_min_form_breaks_ties_at_the_first_minimum():
    torch.testing.assert_close(returns("min", torch.tensor([[0.1, -0.5, -0.5]])), torch.tensor([[-0.5, -0.5, 0.0]]))


def test_future_min_is_the_running_minimum_of_the_remaining_steps():
    """G = [min(0.5, -0.2, 0.9), min(-0.2, 0.9), 0.9] = [-0.2, -0.2, 0.9]."""
    torch.testing.assert_close(returns("future_min"), torch.tensor([[-0.2, -0.2, 0.9]]))


def test_softmin_transforms_rewards_by_softmax_of_minus_r_over_t_then_sums():
    """T = 0.1: weights = softmax([-5, 2, -9]); r* = weights * r; G = reverse cumsum of r*."""
    z = [math.exp(-5), math.exp(2), math.exp(-9)]
    w = [v / sum(z) for v in z]
    r_star = [w[0] * 0.5, w[1] * -0.2, w[2] * 0.9]
    expected = torch.tensor([[sum(r_star), r_star[1] + r_star[2], r_star[2]]])
    torch.testing.assert_close(returns("softmin"), expected)
    torch.testing.assert_close(softmin_weights(R, FULL, 0.1), torch.tensor([w]))


def test_softmin_with_a_large_temperature_tends_to_the_mean():
    torch.testing.assert_close(returns("softmin", temperature=1e6)[0, 0], R.mean(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["sum", "min", "softmin", "future_min"])
def test_padding_steps_are_ignored_even_when_they_hold_nan(mode):
    padded = torch.tensor([[0.5, -0.2, 0.9, float("nan")]])
    mask = torch.tensor([[True, True, True, False]])
    out = returns(mode, padded, mask)
    torch.testing.assert_close(out[:, :3], returns(mode))
    assert out[0, 3] == 0


@pytest.mark.parametrize("mode", ["sum", "min", "softmin", "future_min"])
def test_a_response_with_no_steps_gets_zero_returns(mode):
    out = returns(mode, torch.tensor([[0.3, 0.1]]), torch.zeros(1, 2, dtype=torch.bool))
    assert torch.equal(out, torch.zeros(1, 2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_rewards_on_real_steps_raise(bad):
    with pytest.raises(ValueError, match=r"step rewards holds a non-finite value .* at index \(0, 1\)"):
        returns("softmin", torch.tensor([[0.1, bad, 0.2]]))


def test_reward_and_mask_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"step rewards has shape \(1, 3\) but step mask has shape \(1, 2\)"):
        step_returns(R, torch.ones(1, 2, dtype=torch.bool))


def test_bad_temperature_and_gamma_are_rejected():
    with pytest.raises(ValueError, match="temperature"):
        CreditConfig(temperature=0.0)
    with pytest.raises(ValueError, match="gamma"):
        CreditConfig(gamma=1.5)


def test_token_rewards_on_closing_tokens_reproduce_step_returns_under_reverse_cumsum():
    """Tokens [a a | b b b | c] with separators id 1: every token of step k sees G_k."""
    ids = torch.tensor([[7, 1, 7, 7, 1, 7, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0]]).bool()
    layout = split_steps(ids, mask, torch.tensor([1]))
    g = returns("min")
    token_rewards = step_returns_to_token_rewards(g, layout)
    assert torch.count_nonzero(token_rewards) <= 3 and token_rewards[0, 6] == 0
    token_returns = future_sum(token_rewards)
    torch.testing.assert_close(token_returns[0, :6], g[0, layout.step_index[0, :6]])
