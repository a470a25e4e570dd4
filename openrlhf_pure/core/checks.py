"""Input checks shared by the core: clear errors that name the offending tensor and shapes."""

from __future__ import annotations

import torch


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise ValueError naming both tensors and shapes unless ``a.shape == b.shape``."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}")


def check_ndim(name: str, x: torch.Tensor, ndim: int) -> None:
    """Raise ValueError unless ``x`` has ``ndim`` dimensions (message names ``x``)."""
    if x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")


def check_finite(name: str, x: torch.Tensor, mask: torch.Tensor | None = None) -> None:
    """Raise ValueError if ``x`` holds NaN or inf where ``mask`` is true (everywhere if None).

    The message names ``x`` and the index of the first bad entry, so a broken reward model
    is caught where its output enters the algorithm rather than as a NaN loss later.
    """
    bad = ~torch.isfinite(x)
    if mask is not None:
        bad = bad & mask.bool()
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        value = x[index].item()
        raise ValueError(f"{name} holds a non-finite value {value} at index {index}")
