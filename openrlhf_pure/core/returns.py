"""Sums of future rewards, and moving per-step values to and from token positions.

Token returns from token rewards (``TOKEN_RETURNS``, each (rewards (B, T), action_mask (B, T),
N) -> (B, T), 0 on padding):

- ``sum`` (default; PURE, OpenRLHF's REINFORCE-style returns): G_t = sum_{k >= t} r_k.
- ``running_min`` (the authors' verl "strict min-form"): G_t = min_{k >= t} r_k over the
  response's tokens, every token counting, not only step-closing ones (a token without a
  step reward holds its KL penalty, or 0); and min with 0 when the response is shorter than
  N, because their running minimum also ran through the zero padding that follows such a
  response in a batch padded to N. Kept to reproduce that code; the step-level
  ``credit.future_min`` is the sound form.
"""

from __future__ import annotations

import torch

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.core.steps import StepLayout

TOKEN_RETURNS: Registry = Registry("token returns")


def future_sum(x: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Discounted sum of future values along the last dimension.

    out[..., t] = sum_{k >= t} gamma^(k - t) * x[..., k]

    Args:
        x: (..., L) float.
        gamma: discount in [0, 1]. gamma = 1 is computed as total - prefix sum + x (one cumsum,
            no flipped copies; rounding error ~1e-7 of the largest prefix); other values run a
            backward recursion over L (cheap at step level, slower over long token axes).
    Returns:
        (..., L), same dtype as ``x``.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    if gamma == 1.0:
        prefix = x.cumsum(-1)
        return (prefix[..., -1:] - prefix).add_(x)
    out = torch.empty_like(x)
    running = torch.zeros_like(x[..., 0])
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + gamma * running
        out[..., t] = running
    return out


def place_on_closing_tokens(step_values: torch.Tensor, layout: StepLayout) -> torch.Tensor:
    """Put each step's value on its closing token; every other token gets 0.

    Args:
        step_values: (B, S) float, values per step (ignored where ``layout.step_mask`` is false).
        layout: the responses' :class:`StepLayout`.
    Returns:
        (B, T) float.
    """
    if step_values.shape != layout.step_mask.shape:
        raise ValueError(
            f"shape mismatch: step values have shape {tuple(step_values.shape)} but the step layout "
            f"has {tuple(layout.step_mask.shape)} (batch, steps)"
        )
    values = torch.where(layout.step_mask, step_values, torch.zeros_like(step_values))
    tokens = torch.zeros(layout.action_mask.shape, dtype=step_values.dtype, device=step_values.device)
    return tokens.scatter_add_(1, layout.step_end, values)  # empty slots add 0 at position 0


def gather_at_closing_tokens(token_values: torch.Tensor, layout: StepLayout) -> torch.Tensor:
    """Read a (B, T) tensor at each step's closing token: (B, S), 0 where there is no step."""
    if token_values.shape != layout.action_mask.shape:
        raise ValueError(
            f"shape mismatch: token values have shape {tuple(token_values.shape)} but the step layout "
            f"has {tuple(layout.action_mask.shape)} (batch, tokens)"
        )
    values = token_values.gather(1, layout.step_end)
    return torch.where(layout.step_mask, values, torch.zeros_like(values))


def step_returns_to_step_rewards(step_returns: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """Per-step rewards whose future sum reproduces the step returns: G_k - G_{k+1}. (B, S) -> (B, S)."""
    masked = torch.where(step_mask, step_returns, torch.zeros_like(step_returns))
    return masked - torch.nn.functional.pad(masked[:, 1:], (0, 1))


def step_returns_to_token_rewards(step_returns: torch.Tensor, layout: StepLayout) -> torch.Tensor:
    """Token-level rewards whose gamma = 1 future sum reproduces the step returns.

    Step k's closing token gets G_k - G_{k+1} (G_{S} = 0), so for every token t of step k,
    sum_{t' >= t} reward[t'] = G_k. This is how OpenRLHF's own reverse-cumsum return code
    can consume any credit mode.

    Args:
        step_returns: (B, S) float, 0 where ``layout.step_mask`` is false.
        layout: the responses' :class:`StepLayout`.
    Returns:
        (B, T) float.
    """
    return place_on_closing_tokens(step_returns_to_step_rewards(step_returns, layout.step_mask), layout)


@TOKEN_RETURNS.register("sum")
def summed_token_returns(rewards: torch.Tensor, action_mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """G_t = sum_{k >= t} r_k on valid tokens. (B, T) -> (B, T)."""
    return future_sum(rewards).mul_(action_mask)


@TOKEN_RETURNS.register("running_min")
def running_min_token_returns(rewards: torch.Tensor, action_mask: torch.Tensor, max_len: int) -> torch.Tensor:
    """G_t = min(min_{k >= t, valid} r_k, 0 if the response has fewer than N tokens). (B, T) -> (B, T).

    Rewards [0.5, 0, 0.3] of a response shorter than N: [0, 0, 0]; exactly N long: [0, 0, 0.3].
    """
    valid = action_mask.bool()
    future = rewards.masked_fill(~valid, float("inf")).flip(1).cummin(dim=1).values.flip(1)
    shorter = valid.sum(dim=1, keepdim=True) < max_len
    future = torch.where(shorter, future.clamp(max=0.0), future)
    return future.masked_fill_(~valid, 0.0)
