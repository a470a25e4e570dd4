"""From step scores and verifiable rewards to per-token advantages (PURE.md section 5).

The path, for B responses of T tokens (S steps at most):

1. process rewards: step scores (B, S) -> credit mode -> step returns (B, S) -> token rewards
   on the step-closing tokens (B, T) -> scaled by ``pr_coef`` -> process baseline
   (``pr_baseline``; the ``token`` one charges each step for ``step_token_count`` tokens);
2. verifiable rewards (B,) -> leave-one-out (or GRPO, or none) baseline -> scaled by
   ``vr_coef`` -> placed on each response's last valid token;
3. KL penalty: -kl_coef * KL_t on every token (a reward term, not a loss term), the estimate
   optionally clamped to [-kl_clamp, kl_clamp];
4. returns: reverse cumulative sum over tokens with gamma = 1 (as in PURE; OpenRLHF's
   REINFORCE-style returns; ``token_returns``), then optionally one baseline over the returns
   of all rewards (``return_baseline``, verl's form); advantages = returns;
5. optionally zero the advantage at reward tokens (``mask_reward_tokens``, on by default). The
   default ``mask_tokens="reward"`` zeroes the tokens that carry rewards in this mode: the
   step-closing tokens (the last token included) when process rewards are used, only the
   last token in PURE-VR. The authors' OpenRLHF code zeroes every step-closing token in every
   mode, PURE-VR included (``mask_tokens="closing"``); their verl code masks nothing.
   Users who could not reproduce the verl variant suspect this masking keeps OpenRLHF stable;
6. optionally whiten the advantages over the batch's remaining valid tokens (``whitening``).

``AdvantageConfig.preset(name)`` gives the project's default or either of the authors'
implementations exactly (``core.presets``; every difference is tabulated in docs/presets.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from openrlhf_pure.core.baselines import PR_BASELINES, RETURN_BASELINES, STEP_TOKEN_COUNTS, BaselineInputs
from openrlhf_pure.core.checks import check_ndim, check_same_shape
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.groups import group_index
from openrlhf_pure.core.kl import KL_ESTIMATORS, token_kl
from openrlhf_pure.core.presets import preset_fields
from openrlhf_pure.core.registry import Registry
from openrlhf_pure.core.returns import TOKEN_RETURNS, place_on_closing_tokens, step_returns_to_step_rewards
from openrlhf_pure.core.steps import StepLayout, last_valid_position
from openrlhf_pure.core.verifiable import VR_ESTIMATORS, verifiable_advantage_rewards
from openrlhf_pure.core.whitening import WHITENING, whiten

__all__ = ["MASKED_TOKENS", "AdvantageConfig", "AdvantageResult", "compute_advantages", "whiten"]

MASKED_TOKENS: Registry = Registry("masked tokens")


@dataclass(frozen=True)
class AdvantageConfig:
    """Every choice on the path from rewards to advantages; defaults are the project's.

    Args:
        credit: credit mode, softmin temperature and step discount (:class:`CreditConfig`).
        pr_coef: coefficient of the process rewards.
        pr_baseline: "token" (default), "max_len", "step", "step_mean" (hack-prone ablations) or "none".
        step_token_count: tokens the "token" baseline charges a step for: "with_closing"
            (default) or "without_closing" (the authors' OpenRLHF code).
        max_len: N for the "max_len" baselines and ``token_returns="running_min"``, the maximum
            generation length; None uses T.
        vr_coef: coefficient of the verifiable reward (1.0 in PURE-PRM+VR).
        vr_estimator: "rloo" (default), "grpo" (group normalisation) or "none" (raw VR).
        kl_coef: per-token KL penalty coefficient (0.001).
        kl_estimator: "k1" (default), "k2" or "k3".
        kl_clamp: clamp each KL estimate to [-kl_clamp, kl_clamp]; None (default) for no clamp.
        token_returns: "sum" (default) or "running_min" (verl's strict min-form), see ``returns``.
        return_baseline: "none" (default) or "max_len" (verl's baseline over all returns).
        mask_reward_tokens: zero the advantage on the tokens ``mask_tokens`` names (default True).
        mask_tokens: "reward" (default: the reward-carrying tokens of this mode) or "closing"
            (every step-closing token, also in PURE-VR; needs the step layout).
        whiten: normalise the advantages over the batch (default True).
        whitening: "masked" (default), "nonzero_mean" (authors' OpenRLHF) or "unbiased" (verl).
        eps: numerical floor for whitening and GRPO's std.

    >>> AdvantageConfig(credit=CreditConfig(mode="min"), pr_baseline="none").credit.mode
    'min'
    >>> AdvantageConfig.preset("authors_verl").return_baseline
    'max_len'
    """

    credit: CreditConfig = field(default_factory=CreditConfig)
    pr_coef: float = 1.0
    pr_baseline: str = "token"
    step_token_count: str = "with_closing"
    max_len: int | None = None
    vr_coef: float = 1.0
    vr_estimator: str = "rloo"
    kl_coef: float = 1e-3
    kl_estimator: str = "k1"
    kl_clamp: float | None = None
    token_returns: str = "sum"
    return_baseline: str = "none"
    mask_reward_tokens: bool = True
    mask_tokens: str = "reward"
    whiten: bool = True
    whitening: str = "masked"
    eps: float = 1e-8

    def __post_init__(self):
        for registry, name in ((PR_BASELINES, self.pr_baseline), (STEP_TOKEN_COUNTS, self.step_token_count),
                               (VR_ESTIMATORS, self.vr_estimator), (KL_ESTIMATORS, self.kl_estimator),
                               (TOKEN_RETURNS, self.token_returns), (RETURN_BASELINES, self.return_baseline),
                               (MASKED_TOKENS, self.mask_tokens), (WHITENING, self.whitening)):  # fmt: skip
            registry.get(name)  # unknown names fail here, listing the known ones
        if self.max_len is not None and self.max_len < 1:
            raise ValueError(f"max_len must be a positive number of tokens, got {self.max_len}")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")
        if self.kl_clamp is not None and not self.kl_clamp > 0:
            raise ValueError(f"kl_clamp must be > 0 (or None for no clamp), got {self.kl_clamp}")

    @classmethod
    def preset(cls, name: str) -> AdvantageConfig:
        """The configuration named ``name``: "default", "authors_openrlhf" or "authors_verl" (``core.presets``)."""
        return cls().with_overrides(preset_fields(name))

    def with_overrides(self, overrides: Mapping[str, object]) -> AdvantageConfig:
        """A copy with some fields replaced; ``credit`` takes a dict, or use dotted names ("credit.mode").

        Raises ValueError naming an unknown field.

        >>> AdvantageConfig().with_overrides({"credit.mode": "min", "whiten": False}).credit.mode
        'min'
        """
        top, credit = {}, {}
        for key, value in overrides.items():
            head, _, rest = key.partition(".")
            if head == "credit" and (rest or isinstance(value, Mapping)):
                credit.update({rest: value} if rest else value)
            else:
                top[key] = value
        known = {f.name for f in dataclasses.fields(self)}
        credit_known = {f.name for f in dataclasses.fields(CreditConfig)}
        unknown = sorted(set(top) - known) + sorted(f"credit.{k}" for k in set(credit) - credit_known)
        if unknown:
            raise ValueError(f"unknown advantage option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if credit:
            top["credit"] = dataclasses.replace(self.credit, **credit)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict:
        """Every field (``credit`` nested), for logging the resolved configuration with a run."""
        return dataclasses.asdict(self)


@MASKED_TOKENS.register("reward")
def reward_carrying_tokens(reward_tokens: torch.Tensor, layout: StepLayout | None) -> torch.Tensor:
    """The tokens that carry a reward in this mode. (B, T) bool -> (B, T) bool."""
    return reward_tokens


@MASKED_TOKENS.register("closing")
def step_closing_tokens(reward_tokens: torch.Tensor, layout: StepLayout | None) -> torch.Tensor:
    """Every step-closing token (separators and the last token), whatever carries rewards. (B, T) bool."""
    if layout is None:
        raise ValueError("mask_tokens='closing' needs the responses' step layout (split_steps), also in PURE-VR")
    return layout.closing_mask


@dataclass
class AdvantageResult:
    """Everything the path computed, for the trainer and for logging.

    Attributes:
        advantages:    (B, T) float, 0 on padding (and on reward tokens when masked).
        returns:       (B, T) float, ``token_returns`` of ``token_rewards``, less any ``return_baseline``.
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
        config: the choices (default: the project's; ``AdvantageConfig.preset`` for the authors').
        layout: the responses' :class:`StepLayout` (needed with ``step_rewards``, and with
            ``mask_tokens="closing"``).
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
    if layout is not None:
        check_same_shape("action_mask", action_mask, "step layout tokens", layout.action_mask)
    batch, width = action_mask.shape
    max_len = config.max_len or width  # N
    group = group_index(groups, batch, action_mask.device)
    result = AdvantageResult(action_mask, action_mask, action_mask, action_mask)  # fields set below

    per_step = None  # (B, S) all rewards carried by each step's closing token
    if step_rewards is not None:
        if layout is None:
            raise ValueError("step rewards need the responses' step layout (split_steps)")
        result.step_returns = step_returns(step_rewards.float(), layout.step_mask, config.credit)
        process = step_returns_to_step_rewards(result.step_returns, layout.step_mask) * config.pr_coef
        result.process_reward = process.sum(dim=1)
        charged = STEP_TOKEN_COUNTS.get(config.step_token_count)(layout)
        inputs = BaselineInputs(process, layout, group, max_len, charged)
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
        result.kl = token_kl(log_probs, ref_log_probs, action_mask, config.kl_estimator, config.kl_clamp)
        token_rewards = token_rewards.sub_(result.kl, alpha=config.kl_coef)

    returns = TOKEN_RETURNS.get(config.token_returns)(token_rewards, action_mask, max_len)
    returns = RETURN_BASELINES.get(config.return_baseline)(returns, action_mask, group, max_len)
    advantage_mask = action_mask
    if config.mask_reward_tokens:
        advantage_mask = action_mask & ~MASKED_TOKENS.get(config.mask_tokens)(reward_tokens, layout)
    if config.whiten:
        advantages = WHITENING.get(config.whitening)(returns, advantage_mask, action_mask, config.eps)
    else:
        advantages = returns * advantage_mask
    result.advantages, result.returns, result.token_rewards = advantages, returns, token_rewards
    result.advantage_mask = advantage_mask
    return result
