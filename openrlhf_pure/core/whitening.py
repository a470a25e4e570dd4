"""Whitening the advantages over the batch (PURE.md section 5): three published variants.

Each variant maps returns (B, T), the tokens that may carry an advantage (``keep``, (B, T)
bool: valid tokens minus masked reward tokens) and the valid tokens (``valid``, (B, T) bool)
to advantages (B, T), 0 outside ``keep``. With M = number of tokens in ``keep``:

- ``masked`` (default): mean and variance over ``keep``, var = sum (x - mean)^2 / M,
  A = (x - mean) / sqrt(var + eps). The textbook masked whitening.
- ``nonzero_mean`` (the authors' OpenRLHF replay buffer): the mean is taken over the kept
  tokens whose value is non-zero, M' of them; the variance sums (x - mean)^2 over *every*
  valid token (so each masked reward token, whose value is 0, adds mean^2) and divides by
  the same M'; A = (x - mean) / sqrt(max(var, eps)), then 0 wherever x was 0. A kept token
  whose return is exactly 0 (e.g. a zero KL and a group whose rewards all tie) is dropped
  from the count and keeps advantage 0.
- ``unbiased`` (verl's ``masked_whiten``): as ``masked`` with the variance divided by M - 1.

Every variant is invariant to padding (padding is outside ``valid``).
"""

from __future__ import annotations

import torch

from openrlhf_pure.core.registry import Registry

WHITENING: Registry = Registry("whitening variant")


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(values - mean) / std over the entries where ``mask`` is true; 0 elsewhere. (B, T) -> (B, T)."""
    weights = mask.to(values.dtype)  # once: bool reductions and bool-float products are slow on CPU
    count = weights.sum().clamp(min=1)
    centered = values * weights
    mean = centered.sum() / count
    centered.sub_(mean).mul_(weights)  # two passes over the data: mean, then squared deviations
    var = torch.dot(centered.flatten(), centered.flatten()) / count
    return centered.mul_(torch.rsqrt(var + eps))


@WHITENING.register("masked")
def masked_whitening(values: torch.Tensor, keep: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean and biased variance over ``keep``: [1, 3 | 0 masked] -> [-1, 1, 0]. (B, T) -> (B, T)."""
    return whiten(values, keep, eps)


@WHITENING.register("unbiased")
def unbiased_whitening(values: torch.Tensor, keep: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean over ``keep``, variance with Bessel's correction (M - 1). (B, T) -> (B, T).

    [1, 3 | 0 masked]: mean 2, var (1 + 1) / (2 - 1) = 2, so A = [-1, 1, 0] / sqrt(2).
    """
    weights = keep.to(values.dtype)
    count = weights.sum()
    centered = (values - (values * weights).sum() / count.clamp(min=1)).mul_(weights)
    var = torch.dot(centered.flatten(), centered.flatten()) / (count - 1).clamp(min=1)
    return centered.mul_(torch.rsqrt(var + eps))


@WHITENING.register("nonzero_mean")
def nonzero_mean_whitening(values: torch.Tensor, keep: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean over kept non-zero values, variance over all valid tokens divided by their count. (B, T) -> (B, T).

    [1, 3 | 0 masked], all three valid: M' = 2, mean 2, var = (1 + 1 + 4) / 2 = 3, so
    A = [-1, 1, 0] / sqrt(3).
    """
    values = values * keep  # masked reward tokens hold 0, as in their replay buffer
    nonzero = values != 0
    count = nonzero.sum().clamp(min=1)
    mean = values.sum() / count
    var = ((values - mean).square() * valid).sum() / count
    return ((values - mean) * torch.rsqrt(var.clamp(min=eps))).mul_(nonzero)
