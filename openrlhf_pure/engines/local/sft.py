"""Supervised fine-tuning (the demo's warm-up): cross-entropy on response tokens only."""

from __future__ import annotations

import random

import torch


def encode_examples(tokenizer, examples: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(prompt, response) pairs -> right-padded ids (N, L), attention mask (N, L), loss mask (N, L).

    The response is followed by EOS; the loss mask is true on response tokens (EOS included).
    """
    rows, masks = [], []
    for prompt, response in examples:
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(prompt_ids + response_ids)
        masks.append([False] * len(prompt_ids) + [True] * len(response_ids))
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    attention = torch.zeros(len(rows), width, dtype=torch.bool)
    loss_mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, (row, mask) in enumerate(zip(rows, masks)):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = True
        loss_mask[i, : len(row)] = torch.tensor(mask)
    return ids, attention, loss_mask


def supervised_finetune(
    model, tokenizer, examples: list[tuple[str, str]], steps: int, batch_size: int = 32, lr: float = 3e-3, seed: int = 0
) -> list[float]:
    """Train ``model`` on (prompt, response) pairs with AdamW; returns the loss of each step.

    Each step draws ``batch_size`` pairs (seeded) and runs them padded to the longest of them.
    """
    ids, attention, loss_mask = encode_examples(tokenizer, examples)
    device = next(model.parameters()).device
    ids, attention, loss_mask = ids.to(device), attention.to(device), loss_mask.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    losses = []
    model.train()
    for _ in range(steps):
        rows = torch.tensor(rng.sample(range(ids.shape[0]), min(batch_size, ids.shape[0])), device=device)
        width = int(attention[rows].sum(1).max())  # right-padded: the batch's own width is enough
        batch_ids, batch_attention = ids[rows, :width], attention[rows, :width]
        logits = model(input_ids=batch_ids, attention_mask=batch_attention.long()).logits[:, :-1].float()
        targets, mask = batch_ids[:, 1:], loss_mask[rows, 1:width]
        loss = torch.nn.functional.cross_entropy(logits[mask], targets[mask])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
