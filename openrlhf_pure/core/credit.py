"""Credit assignment: from step rewards r_1..r_n to step returns G_1..G_n (PURE.md section 4).

Modes (a registry; each is a function (rewards (B, S), mask (B, S), config) -> returns (B, S)):

- ``sum``: the canonical sum-form return, G_t = sum_{k>=t} gamma^(k-t) r_k. A PRM's summed
  rewards are hacked within a few dozen RL steps (the policy adds or shapes steps).
- ``min``: PURE Eq. 3/4, exact. w = argmin_k r_k over all steps; G_t = r_w for t <= w and 0
  after. Ties pick the first minimum (fewest steps credited).
- ``softmin`` (default, the paper's method, Eq. 5): transform the rewards,
  r*_k = softmax(-r / T)_k * r_k over the response's steps, then the ordinary sum of future
  r*. As T -> 0 this tends to ``min``; T = 0.1 is the paper's default.
- ``future_min``: the "strict min-form" of the authors' verl code, G_t = min_{k>=t} r_k,
  taken at step level over real steps only (their code took it over every token, padding
  and zeros included, which we do not reproduce).

Returns are bounded by the reward range for min, softmin and future_min (a response's
worst step decides), while sum grows with the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from openrlhf_pure.core.checks import check_finite, check_ndim, check_same_shape
from openrlhf_pure.core.registry import Registry
from openrlhf_pure.core.returns import future_sum

CREDIT_MODES: Registry = Registry("credit mode")


@dataclass(frozen=True)
class CreditConfig:
    """How step rewards become step returns.

    Args:
        mode: a name in ``CREDIT_MODES``: "sum", "min", "softmin" (default) or "future_min".
        temperature: T of the softmin transform (Eq. 5); the paper's default 0.1.
        gamma: step-level discount for "sum" and "softmin"; PURE uses 1.

    >>> CreditConfig(mode="min").mode
    'min'
    """

    mode: str = "softmin"
    temperature: float = 0.1
    gamma: float = 1.0

    def __post_init__(self):
        CREDIT_MODES.get(self.mode)  # unknown names fail here, listing the known ones
        if not self.temperature > 0:
            raise ValueError(f"credit temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"credit gamma must lie in [0, 1], got {self.gamma}")


def _zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, torch.zeros_like(x))


@CREDIT_MODES.register("sum")
def sum_form_returns(rewards: torch.Tensor, mask: torch.Tensor, config: CreditConfig) -> torch.Tensor:
    """G_t = sum_{k>=t} gamma^(k-t) r_k. (B, S) -> (B, S)."""
    return _zero_padding(future_sum(_zero_padding(rewards, mask), config.gamma), mask)


@CREDIT_MODES.register("min")
def min_form_returns(rewards: torch.Tensor, mask: torch.Tensor, config: CreditConfig) -> torch.Tensor:
    """PURE Eq. 3: G_t = min_k r_k for t <= argmin, 0 after. (B, S) -> (B, S)."""
    masked = torch.where(mask, rewards, torch.full_like(rewards, float("inf")))
    worst = masked.argmin(dim=1, keepdim=True)  # (B, 1), first minimum
    worst_reward = rewards.gather(1, worst)  # (B, 1)
    steps = torch.arange(rewards.shape[1], device=rewards.device).unsqueeze(0)
    return _zero_padding(worst_reward.expand_as(rewards), mask & (steps <= worst))


def softmin_weights(rewards: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(-r / T) over each response's real steps. (B, S) -> (B, S), rows sum to 1 (0 if no step)."""
    logits = (-rewards / temperature).masked_fill(~mask, float("-inf"))
    return _zero_padding(torch.softmax(logits, dim=1), mask)  # an all-padding row is NaN before this


@CREDIT_MODES.register("softmin")
def softmin_returns(rewards: torch.Tensor, mask: torch.Tensor, config: CreditConfig) -> torch.Tensor:
    """PURE Eq. 5: r*_k = softmax(-r/T)_k * r_k, then G_t = sum_{k>=t} gamma^(k-t) r*_k. (B, S) -> (B, S)."""
    transformed = softmin_weights(rewards, mask, config.temperature) * _zero_padding(rewards, mask)
    return _zero_padding(future_sum(transformed, config.gamma), mask)


@CREDIT_MODES.register("future_min")
def future_min_returns(rewards: torch.Tensor, mask: torch.Tensor, config: CreditConfig) -> torch.Tensor:
    """Strict min-form: G_t = min_{k>=t} r_k over real steps. (B, S) -> (B, S)."""
    masked = torch.where(mask, rewards, torch.full_like(rewards, float("inf")))
    running_min = masked.flip(1).cummin(dim=1).values.flip(1)
    return _zero_padding(running_min, mask)


def step_returns(rewards: torch.Tensor, mask: torch.Tensor, config: CreditConfig | None = None) -> torch.Tensor:
    """Step returns under ``config.mode``, after checking the input.

    Args:
        rewards: (B, S) float step rewards (e.g. PRM scores in [-1, 1]).
        mask: (B, S) bool, true for real steps.
        config: the credit configuration (default: softmin, T = 0.1, gamma = 1).
    Returns:
        (B, S) float, 0 on padding.
    Raises:
        ValueError on a shape mismatch (naming both shapes) or a NaN/inf reward on a real step.
    """
    config = config or CreditConfig()
    check_ndim("step rewards", rewards, 2)
    check_same_shape("step rewards", rewards, "step mask", mask)
    mask = mask.bool()
    check_finite("step rewards", rewards, mask)
    return CREDIT_MODES.get(config.mode)(rewards, mask, config)
