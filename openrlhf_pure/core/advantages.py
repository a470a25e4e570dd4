"""From step scores and verifiable rewards to per-token advantages (PURE.md section 5).

The path, for B responses of T tokens (S steps at most):

1. process rewards: step scores (B, S) -> credit mode -> step returns (B, S) -> token rewards
   on the step-closing tokens (B, T) -> scaled by ``pr_coef`` -> process baseline;
2. verifiable rewards (B,) -> leave-one-out (or GRPO) baseline -> scaled by ``vr_coef`` ->
   placed on each response's last valid token;
3. KL penalty: -kl_coef * KL_t on every token (a reward term, not a loss term);
4. returns: reverse cumulative sum over tokens with gamma = 1 (as in PURE; OpenRLHF's
   REINFORCE-style returns), advantages = returns;
5. optionally zero the advantage at the reward-carrying tokens (step-closing tokens when
   process rewards are used, the last token when verifiable rewards are), on by default as
   in the authors' OpenRLHF variant, which is suspected to be what keeps it stable;
6. optionally whiten the advantages over the batch's remaining valid tokens (default on).

Differences from the paper's verl code: future_min is taken over real steps only (see
``credit``); masking (5) is an option here, absent there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from openrlhf_pure.core.baselines import PR_BASELINES, BaselineInputs
from openrlhf_pure.core.checks import check_ndim, check_same_shape
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.groups import group_index
from openrlhf_pure.core.kl import KL_ESTIMATORS, token_kl
from openrlhf_pure.core.returns import future_sum, place_on_closing_tokens, step_returns_to_step_rewards
from openrlhf_pure.core.steps import StepLayout, last_valid_position
from openrlhf_pure.core.verifiable import VR_ESTIMATORS, verifiable_advantage_rewards


@dataclass(frozen=True)
class AdvantageConfig:
    """Every choice on the path from rewards to advantages; defaults are the paper's.

    Args:
        credit: credit mode, softmin temperature and step discount (:class:`CreditConfig`).
        pr_coef: coefficient of the process rewards.
        pr_baseline: "token" (default), "max_len", "step" (hack-prone ablation) or "none".
        max_len: N for the "max_len" baseline, the maximum generation length; None uses T.
        vr_coef: coefficient of the verifiable reward (1.0 in PURE-PRM+VR).
        vr_estimator: "rloo" (default) or "grpo" (group normalisation).
        kl_coef: per-token KL penalty coefficient (0.001).
        kl_estimator: "k1" (default), "k2" or "k3".
        mask_reward_tokens: zero the advantage where rewards sit (default True).
        whiten: normalise advantages to mean 0, std 1 over the batch's valid tokens (default True).
        eps: numerical floor for whitening and GRPO's std.

    >>> AdvantageConfig(credit=CreditConfig(mode="min"), pr_baseline="none").credit.mode
    'min'
    """

    credit: CreditConfig = field(default_factory=CreditConfig)
    pr_coef: float = 1.0
    pr_baseline: str = "token"
    max_len: int | None = None
    vr_coef: float = 1.0
    vr_estimator: str = "rloo"
    kl_coef: float = 1e-3
    kl_estimator: str = "k1"
    mask_reward_tokens: bool = True
    whiten: bool = True
    eps: float = 1e-8

    def __post_init__(self):
        PR_BASELINES.get(self.pr_baseline)
        VR_ESTIMATORS.get(self.vr_estimator)
        KL_ESTIMATORS.get(self.kl_estimator)
        if self.max_len is not None and self.max_len < 1:
            raise ValueError(f"max_len must be a positive number of tokens, got {self.max_len}")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")


@dataclass
class AdvantageResult:
    """Everything the path computed, for the trainer and for logging.

    Attributes:
        advantages:    (B, T) float, 0 on padding (and on reward tokens when masked).
        returns:       (B, T) float, reverse cumsum of ``token_rewards``.
        token_rewards: (B, T) float, all reward terms per token (process, verifiable, KL).
        advantage_mask:(B, T) bool, tokens whose advantage may be non-zero.
        step_returns:  (B, S) float or None, the credit mode's step returns (before coefficient and baseline).
        process_reward:(B,) float or None, each response's total process reward (sum of r* for softmin).
        vr_advantage:  (B,) float or None, the baseline-corrected, scaled VR on the last token.
        kl:            (B, T) float or None, the KL estimate per token.
    """

    advantages: torch.Tensor
    returns: torch.Tensor
    token_rewards: torch.Tensor
    advantage_mask: torch.Tensor
    step_returns: torch.Tensor | None = None
    process_reward: torch.Tensor | None = None
    vr_advantage: torch.Tensor | None = None
    kl: torch.Tensor | None = None


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(values - mean) / std over the entries where ``mask`` is true; 0 elsewhere. (B, T) -> (B, T)."""
    weights = mask.to(values.dtype)  # once: bool reductions and bool-float products are slow on CPU
    count = weights.sum().clamp(min=1)
    centered = values * weights
    mean = centered.sum() / count
    centered.sub_(mean).mul_(weights)  # two passes over the data: mean, then squared deviations
    var = torch.dot(centered.flatten(), centered.flatten()) / count
    return centered.mul_(torch.rsqrt(var + eps))


def compute_advantages(
    action_mask: torch.Tensor,
    config: AdvantageConfig | None = None,
    *,
    layout: StepLayout | None = None,
    step_rewards: torch.Tensor | None = None,
    verifiable_rewards: torch.Tensor | None = None,
    groups: int | torch.Tensor = 1,
    log_probs: torch.Tensor | None = None,
    ref_log_probs: torch.Tensor | None = None,
) -> AdvantageResult:
    """Run the whole rewards-to-advantages path.

    Args:
        action_mask: (B, T) bool, valid response tokens.
        config: the choices (default: the paper's).
        layout: the responses' :class:`StepLayout` (needed with ``step_rewards``).
        step_rewards: (B, S) PRM step scores, S = ``layout.num_slots``; None for VR only.
        verifiable_rewards: (B,) 1 / 0 / NaN (no ground truth); None for PRM only.
        groups: group size n (consecutive rows) or (B,) group ids.
        log_probs, ref_log_probs: (B, T) sampled-token log-probs of policy and reference;
            both None to skip the KL penalty.
    Returns:
        an :class:`AdvantageResult`.
    """
    config = config or AdvantageConfig()
    check_ndim("action_mask", action_mask, 2)
    action_mask = action_mask.bool()
    if step_rewards is None and verifiable_rewards is None:
        raise ValueError("need process step rewards, verifiable rewards, or both")
    if (log_probs is None) != (ref_log_probs is None):
        raise ValueError("give both log_probs and ref_log_probs for the KL penalty, or neither")
    batch, width = action_mask.shape
    group = group_index(groups, batch, action_mask.device)
    result = AdvantageResult(action_mask, action_mask, action_mask, action_mask)  # fields set below

    per_step = None  # (B, S) all rewards carried by each step's closing token
    if step_rewards is not None:
        if layout is None:
            raise ValueError("step rewards need the responses' step layout (split_steps)")
        check_same_shape("action_mask", action_mask, "step layout tokens", layout.action_mask)
        result.step_returns = step_returns(step_rewards.float(), layout.step_mask, config.credit)
        process = step_returns_to_step_rewards(result.step_returns, layout.step_mask) * config.pr_coef
        result.process_reward = process.sum(dim=1)
        inputs = BaselineInputs(process, layout, group, config.max_len or width)
        per_step = PR_BASELINES.get(config.pr_baseline)(inputs)

    if verifiable_rewards is not None:
        if verifiable_rewards.shape != (batch,):
            raise ValueError(
                f"shape mismatch: verifiable rewards have shape {tuple(verifiable_rewards.shape)} "
                f"but the batch has {batch} responses"
            )
        vr = verifiable_advantage_rewards(verifiable_rewards, group, config.vr_estimator) * config.vr_coef
        result.vr_advantage = vr

    if per_step is not None:  # the last step closes at the last valid token: VR joins it
        if result.vr_advantage is not None:
            last_step = (layout.num_steps - 1).clamp(min=0).unsqueeze(1)
            per_step = per_step.scatter_add(1, last_step, result.vr_advantage.unsqueeze(1).to(per_step.dtype))
        token_rewards = place_on_closing_tokens(per_step, layout)
        reward_tokens = layout.closing_mask
    else:
        token_rewards = torch.zeros(batch, width, dtype=torch.float32, device=action_mask.device)
        last = last_valid_position(action_mask)
        rows = torch.nonzero(last >= 0).squeeze(1)
        token_rewards[rows, last[rows]] = result.vr_advantage[rows]
        reward_tokens = torch.zeros_like(action_mask)
        reward_tokens[rows, last[rows]] = True

    if log_probs is not None and config.kl_coef > 0:
        result.kl = token_kl(log_probs, ref_log_probs, action_mask, config.kl_estimator)
        token_rewards = token_rewards.sub_(result.kl, alpha=config.kl_coef)

    returns = future_sum(token_rewards).mul_(action_mask)
    advantage_mask = action_mask & ~reward_tokens if config.mask_reward_tokens else action_mask
    advantages = whiten(returns, advantage_mask, config.eps) if config.whiten else returns * advantage_mask
    result.advantages, result.returns, result.token_rewards = advantages, returns, token_rewards
    result.advantage_mask = advantage_mask
    return result
