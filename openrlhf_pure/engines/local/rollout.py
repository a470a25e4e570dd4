"""Rollouts with transformers ``generate``: n samples per prompt, as padded tensors.

Prompts are left-padded so that every response starts at the same column; responses are
right-padded. A response's valid tokens run up to and including its first EOS; a response
without EOS was cut at the maximum length ("truncated", counted in the clip ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    """A batch of B = (prompts x n) sampled responses.

    Attributes:
        sequences:      (B, P + T) long, left-padded prompt then right-padded response.
        attention_mask: (B, P + T) bool, valid prompt and response tokens.
        response_ids:   (B, T) long, the response part of ``sequences``.
        action_mask:    (B, T) bool, valid response tokens (up to and including the first EOS).
        truncated:      (B,) bool, no EOS within the maximum length.
        group:          (B,) long, the prompt each response answers (rows of a group are adjacent).
        responses:      B decoded responses (special tokens removed).
    """

    sequences: torch.Tensor
    attention_mask: torch.Tensor
    response_ids: torch.Tensor
    action_mask: torch.Tensor
    truncated: torch.Tensor
    group: torch.Tensor
    responses: list[str]

    @property
    def response_width(self) -> int:
        """T, the width of the response part."""
        return self.response_ids.shape[1]


def response_mask(response_ids: torch.Tensor, eos_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Valid tokens of generated responses and whether each was truncated.

    Args:
        response_ids: (B, T) long, generated tokens (anything after the first EOS is padding).
        eos_ids: token ids that end a response.
    Returns:
        action_mask (B, T) bool (tokens up to and including the first EOS), truncated (B,) bool.
    """
    is_eos = torch.isin(response_ids, torch.tensor(eos_ids, device=response_ids.device))
    eos_before = torch.cumsum(is_eos, dim=1) - is_eos.long()  # EOS tokens strictly before each position
    return eos_before == 0, ~is_eos.any(dim=1)


def eos_token_ids(tokenizer, model=None) -> list[int]:
    """The ids that end a response: the tokenizer's EOS plus the model's generation-config EOS ids."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    generation = getattr(model, "generation_config", None)
    extra = getattr(generation, "eos_token_id", None)
    ids.update(extra if isinstance(extra, list) else [extra] if extra is not None else [])
    if not ids:
        raise ValueError("neither the tokenizer nor the model defines an EOS token")
    return sorted(ids)


@torch.no_grad()
def generate_rollouts(
    model,
    tokenizer,
    prompts: list[str],
    n: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_prompt_tokens: int | None = None,
) -> Rollout:
    """Sample ``n`` responses for each prompt.

    Args:
        model: a causal LM (its device is used).
        tokenizer: its tokenizer (needs a pad token).
        prompts: the prompt strings (already formatted; no chat template is applied).
        n: samples per prompt.
        max_new_tokens: maximum response length.
        temperature: 0 means greedy decoding.
        top_p: nucleus sampling.
        max_prompt_tokens: truncate prompts from the left to this many tokens (None: no limit).
    Returns:
        a :class:`Rollout` with B = len(prompts) * n rows, grouped by prompt.
    """
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer needs a pad token for batched generation")
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        encoded = tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
            truncation=max_prompt_tokens is not None,
            max_length=max_prompt_tokens,
        )
    finally:
        tokenizer.padding_side = side
    input_ids = encoded["input_ids"].to(device)
    prompt_mask = encoded["attention_mask"].to(device).bool()
    eos = eos_token_ids(tokenizer, model)
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}
    )
    output = model.generate(
        input_ids=input_ids,
        attention_mask=prompt_mask.long(),
        max_new_tokens=max_new_tokens,
        num_return_sequences=n,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos,
        **sampling,
    )
    prompt_width = input_ids.shape[1]
    response_ids = output[:, prompt_width:]
    if response_ids.shape[1] == 0:  # nothing generated at all
        response_ids = torch.full((output.shape[0], 1), tokenizer.pad_token_id, device=device)
        action_mask, truncated = (
            torch.zeros_like(response_ids, dtype=torch.bool),
            torch.ones(output.shape[0], dtype=torch.bool),
        )
    else:
        action_mask, truncated = response_mask(response_ids, eos)
    response_ids = torch.where(action_mask, response_ids, tokenizer.pad_token_id)
    attention_mask = torch.cat([prompt_mask.repeat_interleave(n, dim=0), action_mask], dim=1)
    sequences = torch.cat([input_ids.repeat_interleave(n, dim=0), response_ids], dim=1)
    texts = tokenizer.batch_decode(response_ids, skip_special_tokens=True)
    group = torch.arange(len(prompts), device=device).repeat_interleave(n)
    return Rollout(sequences, attention_mask, response_ids, action_mask, truncated.cpu(), group, texts)
