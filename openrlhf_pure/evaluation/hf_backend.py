"""The ``hf`` backend: transformers ``generate``, batched, on CPU or GPU.

Prompts are sorted by length and cut into batches of at most ``batch_size`` sequences
(``batch_size // n`` prompts, each with its ``n`` samples), left-padded so that every
response starts at the same column. Decoding uses a fresh ``GenerationConfig`` holding only
the requested settings (greedy, or temperature and top-p with no top-k), so sampling defaults
in the model's own ``generation_config.json`` (top-k, repetition penalty) do not leak in, as
with vLLM. A completion ends at its first stop id (counted in ``num_tokens``); one without a
stop id ran out of ``max_new_tokens`` (``length``).
"""

from __future__ import annotations

from openrlhf_pure.engines.local.rollout import response_mask
from openrlhf_pure.evaluation.backend import (
    BackendError,
    BackendOptions,
    Completion,
    PromptInput,
    SamplingConfig,
    register_backend,
)

DEFAULT_BATCH_SIZE = 16
DTYPES = ("auto", "float32", "bfloat16", "float16")


class HFBackend:
    """Batched generation with a transformers causal LM (see the module docstring)."""

    name = "hf"

    def __init__(self, options: BackendOptions, tokenizer=None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if options.dtype not in DTYPES:
            raise BackendError(f"unknown dtype {options.dtype!r}; known: {', '.join(DTYPES)}")
        device = options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = options.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(options.tokenizer or options.model)
        model = AutoModelForCausalLM.from_pretrained(options.model, dtype=getattr(torch, dtype))
        self.model = model.to(device).eval()
        self.device = device
        self.chunk_size = options.batch_size or DEFAULT_BATCH_SIZE
        self.max_sequences = self.chunk_size
        torch.manual_seed(options.seed)

    def generate(self, prompts: list[PromptInput], sampling: SamplingConfig) -> list[list[Completion]]:
        """``sampling.n`` completions per prompt, in prompt order (batched by length)."""
        if not sampling.stop_token_ids:
            raise BackendError("stop_token_ids must name the model's EOS ids")
        per_batch = max(1, self.max_sequences // sampling.n)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].token_ids))
        results: list[list[Completion]] = [[] for _ in prompts]
        for start in range(0, len(order), per_batch):
            batch = order[start : start + per_batch]
            for i, completions in zip(batch, self._generate_batch([prompts[i].token_ids for i in batch], sampling)):
                results[i] = completions
        return results

    def _generate_batch(self, prompt_ids: list[list[int]], sampling: SamplingConfig) -> list[list[Completion]]:
        import torch
        from transformers import GenerationConfig

        stop = list(sampling.stop_token_ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else stop[0]
        width = max(len(ids) for ids in prompt_ids)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompt_ids])  # (B, P) left-padded
        attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompt_ids])  # (B, P)
        decoding = {"do_sample": False}
        if sampling.temperature > 0:
            decoding = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
        config = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            num_return_sequences=sampling.n,
            eos_token_id=stop,
            pad_token_id=pad,
            **decoding,
        )
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                generation_config=config,
            )  # (B * n, P + T)
        response_ids = output[:, width:].cpu()  # (B * n, T)
        valid, truncated = response_mask(response_ids, stop)  # (B * n, T), (B * n,)
        lengths = valid.sum(dim=1).tolist()
        texts = self.tokenizer.batch_decode(
            [row[:length].tolist() for row, length in zip(response_ids, lengths)], skip_special_tokens=True
        )
        completions = [
            Completion(text, length, "length" if cut else "stop")
            for text, length, cut in zip(texts, lengths, truncated.tolist())
        ]
        return [completions[i * sampling.n : (i + 1) * sampling.n] for i in range(len(prompt_ids))]

    def close(self) -> None:
        """Drop the model (frees GPU memory once no other reference holds it)."""
        self.model = None


@register_backend("hf")
def make_hf_backend(options: BackendOptions, tokenizer=None) -> HFBackend:
    """The ``hf`` backend factory."""
    return HFBackend(options, tokenizer)
