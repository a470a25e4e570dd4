"""Per-token KL estimators between the policy and the frozen reference (PURE.md section 5).

PURE uses KL as a reward penalty (coefficient 0.001 per token), not as a loss term. With
log_ratio = log pi(a) - log pi_ref(a) for the sampled token a (samples from the policy):

- k1: log_ratio (unbiased, can be negative);
- k2: log_ratio^2 / 2;
- k3: exp(-log_ratio) - 1 + log_ratio (unbiased and non-negative; Schulman's estimator).
  log_ratio is clamped to [-20, 20] first so that exp cannot overflow.

Optionally the estimate itself is clamped to [-c, c] (the authors' verl code: k3 clamped to
[-10, 10], verl's "low_var_kl"); off by default. For k3 with c <= 19 the [-20, 20] clamp of
the log-ratio never shows through: k3 already exceeds c before the log-ratio reaches +-20.
"""

from __future__ import annotations

import torch

from openrlhf_pure.core.checks import check_same_shape
from openrlhf_pure.core.registry import Registry

KL_ESTIMATORS: Registry = Registry("KL estimator")


@KL_ESTIMATORS.register("k1")
def kl_k1(log_ratio: torch.Tensor) -> torch.Tensor:
    """(B, T) -> (B, T)."""
    return log_ratio


@KL_ESTIMATORS.register("k2")
def kl_k2(log_ratio: torch.Tensor) -> torch.Tensor:
    """(B, T) -> (B, T)."""
    return 0.5 * log_ratio.square()


@KL_ESTIMATORS.register("k3")
def kl_k3(log_ratio: torch.Tensor) -> torch.Tensor:
    """(B, T) -> (B, T)."""
    clamped = log_ratio.clamp(-20.0, 20.0)
    return torch.expm1(-clamped) + clamped


def token_kl(
    log_probs: torch.Tensor,
    ref_log_probs: torch.Tensor,
    action_mask: torch.Tensor,
    estimator: str = "k1",
    clamp: float | None = None,
) -> torch.Tensor:
    """KL estimate per response token, 0 on padding.

    Args:
        log_probs: (B, T) log-probabilities of the sampled tokens under the policy.
        ref_log_probs: (B, T) the same under the reference model.
        action_mask: (B, T) bool, valid response tokens.
        estimator: "k1", "k2" or "k3".
        clamp: c > 0 to clamp each estimate to [-c, c]; None (default) for no clamp.
    Returns:
        (B, T) float.
    """
    check_same_shape("log_probs", log_probs, "ref_log_probs", ref_log_probs)
    check_same_shape("log_probs", log_probs, "action_mask", action_mask)
    kl = KL_ESTIMATORS.get(estimator)(log_probs.float() - ref_log_probs.float())
    if clamp is not None:
        kl = kl.clamp(-clamp, clamp)
    return kl.masked_fill_(~action_mask.bool(), 0.0)  # padding may hold inf log-probs
