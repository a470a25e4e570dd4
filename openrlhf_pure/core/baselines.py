"""Baselines for process rewards (PURE.md section 5).

Each baseline maps the process rewards of a batch *per step*, (B, S), to baseline-corrected
ones. A step's process reward here is what its closing token carries: G_k - G_{k+1} for the
credit mode's returns G (see ``returns.step_returns_to_token_rewards``), i.e. r*_k for
softmin. Working per step keeps every baseline off the long token axis. Sums run over the
other responses j != i of the same prompt group; R_j is response j's total process reward
(its first step's return), L_j its length in tokens, S_j its number of steps.

- ``token`` (default; the authors' OpenRLHF variant, 5a): b_i = sum_j R_j / sum_j L_j, the
  others' process reward per token; each step's reward loses b_i * (its tokens). A response's
  return then falls by b_i for every token still to come.
- ``max_len`` (the authors' verl variant, 5b): b_i = sum_j sum_t G_{j,t} / ((n - 1) * N) with
  token returns G and N the maximum generation length (not the response length, to avoid a
  length bias, as in Dr. GRPO); every token's return falls by b_i (b_i is charged to the
  last step, which closes at the last token). sum_t G_{j,t} = sum_k G_{j,k} * ntok_{j,k}.
- ``step`` (ablation only): b_i = sum_j R_j / sum_j S_j, the others' reward per step; each
  step's reward loses b_i. It makes the policy write one giant step (the "1-step hack",
  PURE.md section 8): kept to reproduce that failure, not to train with.
- ``step_mean`` (the authors' OpenRLHF form of that ablation): b_i = mean_{j != i} R_j / S_j,
  the mean of the others' per-step rewards rather than their pooled ratio.
- ``none``: no baseline.
A baseline whose denominator is 0 (a group of one, or others without tokens) is 0.

Tokens per step, for the ``token`` baseline's charge b_i * ntok_k (``STEP_TOKEN_COUNTS``):
``with_closing`` (default) counts every token of the step, its closing token included, so a
response of L tokens is charged b_i * L in all; ``without_closing`` (the authors' OpenRLHF
code) leaves the closing token out, so a response of K steps is charged b_i * (L - K).

``RETURN_BASELINES`` act later, on the token returns of *all* rewards (process, verifiable,
KL penalty) rather than on the process rewards alone: ``none`` (default) or ``max_len`` (the
authors' verl code): every valid token's return falls by b_i = sum_{j != i} sum_t G_{j,t} /
((n - 1) N), G the others' token returns with their VR and KL penalty in them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from openrlhf_pure.core.groups import leave_one_out_sum
from openrlhf_pure.core.registry import Registry
from openrlhf_pure.core.returns import future_sum
from openrlhf_pure.core.steps import StepLayout

PR_BASELINES: Registry = Registry("process-reward baseline")
STEP_TOKEN_COUNTS: Registry = Registry("count of tokens per step")
RETURN_BASELINES: Registry = Registry("baseline over token returns")


@dataclass
class BaselineInputs:
    """What a baseline may look at.

    Attributes:
        step_rewards: (B, S) float process reward carried by each step's closing token.
        layout: the responses' step layout (step_mask, step_tokens, num_steps, action_mask).
        group: (B,) long group index.
        max_len: N, the maximum generation length (used by ``max_len``).
        charged_tokens: (B, S) tokens the ``token`` baseline charges each step for; None:
            ``layout.step_tokens`` (see ``STEP_TOKEN_COUNTS``).
    """

    step_rewards: torch.Tensor
    layout: StepLayout
    group: torch.Tensor
    max_len: int
    charged_tokens: torch.Tensor | None = None


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-12), torch.zeros_like(numerator))


def _masked(values: torch.Tensor, layout: StepLayout) -> torch.Tensor:
    return torch.where(layout.step_mask, values, torch.zeros_like(values))


@PR_BASELINES.register("none")
def no_baseline(inputs: BaselineInputs) -> torch.Tensor:
    """Step rewards unchanged. (B, S) -> (B, S)."""
    return inputs.step_rewards


@PR_BASELINES.register("token")
def token_baseline(inputs: BaselineInputs) -> torch.Tensor:
    """5a: r_k - b_i * ntok_k with b_i the others' reward per token. (B, S) -> (B, S)."""
    totals = inputs.step_rewards.sum(dim=1)  # (B,) R
    lengths = inputs.layout.step_tokens.sum(dim=1).to(totals.dtype)  # (B,) L
    per_token = _ratio(leave_one_out_sum(totals, inputs.group), leave_one_out_sum(lengths, inputs.group))
    charged = inputs.layout.step_tokens if inputs.charged_tokens is None else inputs.charged_tokens
    return _masked(inputs.step_rewards - per_token.unsqueeze(1) * charged, inputs.layout)


@PR_BASELINES.register("max_len")
def max_len_baseline(inputs: BaselineInputs) -> torch.Tensor:
    """5b: every token return lowered by the others' summed token returns over (n - 1) N. (B, S) -> (B, S)."""
    step_returns = future_sum(inputs.step_rewards)  # (B, S) G_k, constant over the tokens of step k
    summed = (step_returns * inputs.layout.step_tokens).sum(dim=1)  # (B,) sum_t G_t
    others = leave_one_out_sum(torch.ones_like(summed), inputs.group)  # (B,) n - 1
    baseline = _ratio(leave_one_out_sum(summed, inputs.group), others * inputs.max_len)
    last_step = torch.nn.functional.one_hot((inputs.layout.num_steps - 1).clamp(min=0), inputs.layout.num_slots)
    return _masked(inputs.step_rewards - baseline.unsqueeze(1) * last_step, inputs.layout)


@PR_BASELINES.register("step")
def step_baseline(inputs: BaselineInputs) -> torch.Tensor:
    """Ablation: r_k - b_i with b_i the others' reward per step. (B, S) -> (B, S)."""
    totals = inputs.step_rewards.sum(dim=1)
    steps = inputs.layout.num_steps.to(totals.dtype)
    per_step = _ratio(leave_one_out_sum(totals, inputs.group), leave_one_out_sum(steps, inputs.group))
    return _masked(inputs.step_rewards - per_step.unsqueeze(1), inputs.layout)


@PR_BASELINES.register("step_mean")
def step_mean_baseline(inputs: BaselineInputs) -> torch.Tensor:
    """Ablation, the authors' OpenRLHF form: r_k - mean_{j != i} R_j / S_j. (B, S) -> (B, S)."""
    per_step = _ratio(inputs.step_rewards.sum(dim=1), inputs.layout.num_steps.to(inputs.step_rewards.dtype))
    others = leave_one_out_sum(torch.ones_like(per_step), inputs.group)
    baseline = _ratio(leave_one_out_sum(per_step, inputs.group), others)
    return _masked(inputs.step_rewards - baseline.unsqueeze(1), inputs.layout)


@STEP_TOKEN_COUNTS.register("with_closing")
def tokens_with_closing(layout: StepLayout) -> torch.Tensor:
    """Every token of each step. (B, S) long."""
    return layout.step_tokens


@STEP_TOKEN_COUNTS.register("without_closing")
def tokens_without_closing(layout: StepLayout) -> torch.Tensor:
    """Each step's tokens but its closing one (a one-token step counts 0). (B, S) long."""
    return layout.step_tokens - layout.step_mask.long()


@RETURN_BASELINES.register("none")
def no_return_baseline(returns: torch.Tensor, action_mask: torch.Tensor, group: torch.Tensor, max_len: int):
    """Returns unchanged. (B, T) -> (B, T)."""
    return returns


@RETURN_BASELINES.register("max_len")
def max_len_return_baseline(returns: torch.Tensor, action_mask: torch.Tensor, group: torch.Tensor, max_len: int):
    """verl's: every valid token's return less sum_{j != i} sum_t G_{j,t} / ((n - 1) N). (B, T) -> (B, T).

    Args:
        returns: (B, T) token returns of all rewards, 0 on padding.
        action_mask: (B, T) bool.
        group: (B,) long group index.
        max_len: N.
    """
    summed = returns.sum(dim=1)  # (B,)
    others = leave_one_out_sum(torch.ones_like(summed), group)
    baseline = _ratio(leave_one_out_sum(summed, group), others * max_len)
    return (returns - baseline.unsqueeze(1)) * action_mask
