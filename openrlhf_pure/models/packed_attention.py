"""Causal attention over packed rows, computed sequence by sequence (for the PRM scorer).

A packed row holds several sequences; each token may attend only to the earlier tokens of
its own sequence (a block-diagonal causal mask). Transformers supports packing through
position ids that restart at 0: it then builds that mask as a dense (R, 1, L, L) tensor, and
sdpa given a dense mask uses a slower kernel that also computes every masked-out block (on
CPU, packed rows ran ~4x *slower* than padded ones in ``benchmarks/prm_scoring.py``).

This module registers one more transformers attention implementation, ``pure_packed_sdpa``:
causal sdpa on each sequence's own block, with the segment bounds given by the caller. The
math is the same; the cost is sum_i n_i^2 instead of L^2 per row, and no mask is built.
:func:`packed_attention` switches a model to it for the duration of one call.
Flash-attention models need none of this: transformers turns packed position ids into
variable-length flash-attention calls itself.

Not covered: sliding-window attention (Qwen2's ``use_sliding_window``, off by default) and
attention-score outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from transformers import AttentionInterface

PACKED_SDPA = "pure_packed_sdpa"


def packed_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    packed_segments: list[tuple[int, int, int]] | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Causal attention within each packed sequence (a transformers attention function).

    Args:
        module: the attention layer (unused beyond the interface).
        query: (R, Hq, L, D); key, value: (R, Hkv, L, D), Hq a multiple of Hkv.
        attention_mask: ignored (None under :func:`packed_attention`).
        dropout, scaling: as in ``scaled_dot_product_attention``.
        packed_segments: (row, start, end) of every sequence; positions outside every segment
            (row padding) get zeros.
    Returns:
        (R, L, Hq, D) attention output, and None for the weights.
    """
    if packed_segments is None:
        raise ValueError(f"attention {PACKED_SDPA!r} needs packed_segments; use it through packed_attention()")
    out = torch.zeros_like(query)
    gqa = key.shape[1] != query.shape[1]
    for row, start, end in packed_segments:
        out[row : row + 1, :, start:end] = F.scaled_dot_product_attention(  # 4D inputs: the fused CPU kernel
            query[row : row + 1, :, start:end],
            key[row : row + 1, :, start:end],
            value[row : row + 1, :, start:end],
            dropout_p=dropout,
            is_causal=True,
            scale=scaling,
            enable_gqa=gqa,
        )
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(PACKED_SDPA, packed_sdpa_attention)


@contextmanager
def packed_attention(model) -> Iterator[None]:
    """Run ``model`` with :func:`packed_sdpa_attention` inside the block, then restore its attention.

    Transformers builds no mask for this implementation (it is not a mask-aware one), so the
    calls inside must pass ``packed_segments``. Not thread-safe for a model shared across threads.
    """
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = PACKED_SDPA
    try:
        yield
    finally:
        config._attn_implementation = previous
