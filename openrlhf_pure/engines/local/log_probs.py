"""Log-probabilities of sampled response tokens under a causal LM (policy or reference)."""

from __future__ import annotations

import torch


def response_log_probs(
    model, sequences: torch.Tensor, attention_mask: torch.Tensor, response_width: int, temperature: float = 1.0
) -> torch.Tensor:
    """log pi(a_t | prefix) for the last ``response_width`` tokens of each sequence.

    Args:
        model: a causal LM.
        sequences: (B, P + T) long, left-padded prompt then response.
        attention_mask: (B, P + T) bool.
        response_width: T.
        temperature: the sampling temperature; logits are divided by it so that the
            log-probs are those of the distribution the tokens were sampled from.
    Returns:
        (B, T) float32 (gradients flow when called outside no_grad).
    """
    mask = attention_mask.long()
    position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(input_ids=sequences, attention_mask=mask, position_ids=position_ids).logits
    logits = logits[:, -response_width - 1 : -1, :].float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    targets = sequences[:, -response_width:]
    # log_softmax gathered at the targets, without materialising a second (B, T, V) tensor
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
