"""PPO's clipped policy loss with the diagnostics that tell a user training is going wrong.

loss = mean over valid tokens of max(-A * rho, -A * clip(rho, 1 - eps, 1 + eps)),
rho = exp(log pi(a) - log pi_old(a)). PURE uses eps = 0.2, one gradient step per rollout
batch (so rho = 1 at the first step and the clip only matters with more updates), a
token-mean over the whole micro-batch (every valid token weighs the same, as in OpenRLHF's
default), and KL to the reference as a reward penalty rather than a loss term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from openrlhf_pure.core.checks import check_same_shape


@dataclass
class PolicyLoss:
    """The loss and its diagnostics (scalars).

    Attributes:
        loss: the token-mean clipped surrogate, to minimise.
        clip_fraction: share of valid tokens where the clipped term was chosen.
        approx_kl: mean of (rho - 1) - log rho over valid tokens, an estimate of KL(old || new).
        ratio_max: the largest probability ratio among valid tokens.
    """

    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor
    ratio_max: torch.Tensor


def ppo_policy_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    action_mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> PolicyLoss:
    """Clipped surrogate loss, averaged over valid tokens.

    Args:
        log_probs: (B, T) log-probs of the sampled tokens under the current policy (with grad).
        old_log_probs: (B, T) the same under the policy that sampled them.
        advantages: (B, T) per-token advantages.
        action_mask: (B, T) bool, valid response tokens.
        clip_eps: PPO's epsilon.
    Returns:
        a :class:`PolicyLoss`.
    """
    check_same_shape("log_probs", log_probs, "old_log_probs", old_log_probs)
    check_same_shape("log_probs", log_probs, "advantages", advantages)
    check_same_shape("log_probs", log_probs, "action_mask", action_mask)
    mask = action_mask.to(log_probs.dtype)
    count = mask.sum().clamp(min=1)
    log_ratio = (log_probs - old_log_probs.detach()) * mask
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip_eps, 1 + clip_eps)
    loss = (torch.maximum(unclipped, clipped) * mask).sum() / count
    with torch.no_grad():
        clip_fraction = ((clipped > unclipped).to(mask.dtype) * mask).sum() / count
        approx_kl = (((ratio - 1) - log_ratio) * mask).sum() / count
        ratio_max = torch.where(action_mask.bool(), ratio, torch.zeros_like(ratio)).max()
    return PolicyLoss(loss, clip_fraction, approx_kl, ratio_max)
