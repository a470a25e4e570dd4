"""Sums of future rewards, and moving per-step values to and from token positions."""

from __future__ import annotations

import torch

from openrlhf_pure.core.steps import StepLayout


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
