"""PPO's clipped policy loss, worked by hand."""

from __future__ import annotations

import math

import torch

from openrlhf_pure.core.policy_loss import ppo_policy_loss


def test_at_ratio_one_the_loss_is_minus_the_token_mean_advantage():
    """rho = 1: loss = -(2 + 0 - 1) / 3 valid tokens; the padded token (advantage 9) is ignored."""
    lp = torch.zeros(1, 4, requires_grad=True)
    out = ppo_policy_loss(lp, torch.zeros(1, 4), torch.tensor([[2.0, 0.0, -1.0, 9.0]]), torch.tensor([[1, 1, 1, 0]]))
    assert math.isclose(float(out.loss), -1 / 3, rel_tol=1e-6)
    assert float(out.clip_fraction) == 0 and float(out.approx_kl) == 0
    out.loss.backward()
    assert torch.allclose(lp.grad, torch.tensor([[-2 / 3, 0.0, 1 / 3, 0.0]]))


def test_a_ratio_beyond_the_clip_stops_the_gradient_for_positive_advantages():
    """rho = e^0.5 ~ 1.65 > 1.2 with A = 1: the clipped term -1.2 is the max; no gradient."""
    lp = torch.full((1, 1), 0.5, requires_grad=True)
    out = ppo_policy_loss(lp, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool))
    assert math.isclose(float(out.loss), -1.2, rel_tol=1e-6) and float(out.clip_fraction) == 1.0
    out.loss.backward()
    assert float(lp.grad) == 0.0


def test_a_ratio_beyond_the_clip_keeps_the_gradient_for_negative_advantages():
    """rho ~ 1.65 with A = -1: max(1.65, 1.2) = 1.65, unclipped, the gradient pushes rho down."""
    lp = torch.full((1, 1), 0.5, requires_grad=True)
    out = ppo_policy_loss(lp, torch.zeros(1, 1), -torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool))
    assert math.isclose(float(out.loss), math.exp(0.5), rel_tol=1e-6) and float(out.clip_fraction) == 0.0
    out.loss.backward()
    assert float(lp.grad) > 0
    assert math.isclose(float(out.approx_kl), math.exp(0.5) - 1 - 0.5, rel_tol=1e-5)
