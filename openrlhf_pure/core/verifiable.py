"""Verifiable rewards (VR) and their baseline (PURE.md sections 1 and 5).

VR is 1 when the final answer matches the ground truth and 0 otherwise (the paper); the
authors' OpenRLHF variant used ``solved - 1`` in {-1, 0}, which a leave-one-out baseline
makes identical. A problem without a visible ground truth gives no VR: such responses carry
NaN here and get neither a reward nor a place in their group's baseline.

Estimators over the n responses of one prompt:
- ``rloo`` (PURE's): VR_i - mean_{j != i} VR_j over the present others (0 if there are none);
- ``grpo``: (VR_i - mean_g VR) / (std_g VR + eps), GRPO's group normalisation;
- ``none``: VR_i itself (the authors' verl code, where the only baseline is the one taken
  over the token returns of all rewards, ``baselines.RETURN_BASELINES``).
"""

from __future__ import annotations

import torch

from openrlhf_pure.core.checks import check_ndim
from openrlhf_pure.core.groups import group_mean_std, leave_one_out_mean
from openrlhf_pure.core.registry import Registry

VR_ESTIMATORS: Registry = Registry("verifiable-reward estimator")


@VR_ESTIMATORS.register("rloo")
def rloo_verifiable(vr: torch.Tensor, present: torch.Tensor, group: torch.Tensor, eps: float) -> torch.Tensor:
    """VR_i - mean of the group's other present VR. (B,) -> (B,)."""
    return vr - leave_one_out_mean(vr, present, group)


@VR_ESTIMATORS.register("grpo")
def grpo_verifiable(vr: torch.Tensor, present: torch.Tensor, group: torch.Tensor, eps: float) -> torch.Tensor:
    """(VR_i - group mean) / (group std + eps). (B,) -> (B,)."""
    mean, std = group_mean_std(vr, present, group)
    return (vr - mean) / (std + eps)


@VR_ESTIMATORS.register("none")
def raw_verifiable(vr: torch.Tensor, present: torch.Tensor, group: torch.Tensor, eps: float) -> torch.Tensor:
    """VR_i unchanged (0 where absent). (B,) -> (B,)."""
    return vr


def verifiable_advantage_rewards(
    vr: torch.Tensor, group: torch.Tensor, estimator: str = "rloo", eps: float = 1e-6
) -> torch.Tensor:
    """Baseline-corrected verifiable rewards, ready to be placed on each response's last token.

    Args:
        vr: (B,) float, 1 correct / 0 wrong / NaN where the problem has no ground truth.
        group: (B,) long group index (see :func:`openrlhf_pure.core.groups.group_index`).
        estimator: "rloo" (default), "grpo" or "none".
        eps: added to the group std by "grpo".
    Returns:
        (B,) float, 0 where VR is absent.
    Raises:
        ValueError on an infinite VR (NaN is the only way to say "absent").
    """
    check_ndim("verifiable rewards", vr, 1)
    if bool(torch.isinf(vr).any()):
        raise ValueError("verifiable rewards hold an infinite value; use NaN for 'no ground truth'")
    present = ~torch.isnan(vr)
    filled = torch.where(present, vr.float(), torch.zeros_like(vr, dtype=torch.float))
    corrected = VR_ESTIMATORS.get(estimator)(filled, present, group, eps)
    return torch.where(present, corrected, torch.zeros_like(corrected))
