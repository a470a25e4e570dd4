"""Prompt groups: the n responses sampled for one prompt, and leave-one-out statistics over them."""

from __future__ import annotations

import torch


def group_index(groups: int | torch.Tensor, batch: int, device: torch.device | None = None) -> torch.Tensor:
    """Group of each response as an index in [0, G).

    Args:
        groups: either n, the group size, meaning rows [0, n) form group 0, [n, 2n) group 1,
            ...; or a (B,) tensor of group ids (any integers, rows of a group need not be adjacent).
        batch: B, the number of responses.
    Returns:
        (B,) long.
    """
    if isinstance(groups, int):
        if groups < 1 or batch % groups:
            raise ValueError(f"batch of {batch} responses cannot be split into groups of {groups}")
        return torch.arange(batch, device=device) // groups
    if groups.shape != (batch,):
        raise ValueError(f"group ids must have shape ({batch},), got {tuple(groups.shape)}")
    return torch.unique(groups, return_inverse=True)[1].to(device)


def leave_one_out_sum(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """For each row, the sum of ``values`` over the *other* rows of its group.

    Args:
        values: (B,) float.
        group: (B,) long group index from :func:`group_index`.
    Returns:
        (B,) float.
    """
    totals = torch.zeros(int(group.max()) + 1 if group.numel() else 0, dtype=values.dtype, device=values.device)
    totals.index_add_(0, group, values)
    return totals[group] - values


def leave_one_out_mean(values: torch.Tensor, present: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the other rows of each group where ``present`` is true.

    Args:
        values: (B,) float (ignored where ``present`` is false).
        present: (B,) bool.
        group: (B,) long group index.
    Returns:
        (B,) float; 0 where no other row of the group is present.
    """
    weights = present.to(values.dtype)
    sums = leave_one_out_sum(torch.where(present, values, torch.zeros_like(values)), group)
    counts = leave_one_out_sum(weights, group)
    return torch.where(counts > 0, sums / counts.clamp(min=1), torch.zeros_like(sums))


def group_mean_std(
    values: torch.Tensor, present: torch.Tensor, group: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) standard deviation of each row's group, over present rows.

    (B,) float, (B,) bool, (B,) long -> ((B,), (B,)); 0 for a group with no present row.
    """
    weights = present.to(values.dtype)
    x = torch.where(present, values, torch.zeros_like(values))
    size = int(group.max()) + 1 if group.numel() else 0
    count = torch.zeros(size, dtype=values.dtype, device=values.device).index_add_(0, group, weights)
    total = torch.zeros_like(count).index_add_(0, group, x)
    mean = total / count.clamp(min=1)
    sq = torch.zeros_like(count).index_add_(0, group, weights * (x - mean[group]) ** 2)
    return mean[group], (sq / count.clamp(min=1)).sqrt()[group]
