"""Generation backends behind one interface, and the backend registry.

A backend turns prompts (text and token ids) into ``n`` completions each. Backends take the
prompt's token ids, so every backend sees the same input; each completion reports its text
(special tokens removed), its token count (the stop token included) and why it ended:
``stop`` (an EOS id was generated) or ``length`` (``max_new_tokens`` reached).

Registered backends: ``hf`` (:mod:`hf_backend`, transformers ``generate``, CPU or GPU) and
``vllm`` (:mod:`vllm_backend`, GPU, tensor and data parallel). Each module registers itself
when imported; :func:`make_backend` imports it on demand, so vLLM is imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

BACKEND_MODULES = {"hf": "openrlhf_pure.evaluation.hf_backend", "vllm": "openrlhf_pure.evaluation.vllm_backend"}


class BackendError(RuntimeError):
    """A backend that cannot run here (vLLM not installed, too few GPUs, an unknown name)."""


@dataclass(frozen=True)
class SamplingConfig:
    """How to decode. Defaults are PURE's evaluation settings (greedy pass@1).

    Attributes:
        n: completions per prompt.
        temperature: 0 means greedy decoding.
        top_p: nucleus sampling (used only when ``temperature > 0``).
        max_new_tokens: most tokens generated per completion.
        seed: random seed.
        stop_token_ids: ids that end a completion (the model's EOS ids).
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 3000
    seed: int = 42
    stop_token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PromptInput:
    """A rendered prompt: its text and token ids."""

    text: str
    token_ids: list[int]


@dataclass(frozen=True)
class Completion:
    """One generated completion: text (special tokens removed), token count, ``stop`` or ``length``."""

    text: str
    num_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class BackendOptions:
    """How to load a backend.

    Attributes:
        model: model path or hub name.
        tokenizer: tokenizer path or hub name (default: the model's).
        dtype: ``auto`` (bfloat16 on GPU, float32 on CPU for ``hf``; the model's for ``vllm``),
            ``float32``, ``bfloat16`` or ``float16``.
        device: ``hf`` only: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``...
        batch_size: prompts per generation call (``hf``: default 16, split further so that at
            most this many sequences run at once; ``vllm``: default 512, the write granularity).
        tp: ``vllm`` tensor-parallel size (GPUs per engine).
        dp: ``vllm`` data-parallel size (engines; prompts are split over them).
        seed: random seed of the engine.
        gpu_memory_utilization: ``vllm``: fraction of GPU memory an engine may take.
        max_model_len: ``vllm``: context length (default: the model's).
        enforce_eager: ``vllm``: no CUDA graphs (faster start, slower decoding).
    """

    model: str
    tokenizer: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int | None = None
    tp: int = 1
    dp: int = 1
    seed: int = 42
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False


class Backend(Protocol):
    """What a backend provides."""

    name: str
    chunk_size: int  # prompts the runner hands over per :meth:`generate` call

    def generate(self, prompts: list[PromptInput], sampling: SamplingConfig) -> list[list[Completion]]:
        """``sampling.n`` completions for each prompt, in prompt order."""
        ...

    def close(self) -> None:
        """Release the model and any worker processes."""
        ...


BACKENDS: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str):
    """Decorator: register ``factory(options, tokenizer) -> Backend`` as backend ``name``."""

    def decorate(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        BACKENDS[name] = factory
        return factory

    return decorate


def make_backend(name: str, options: BackendOptions, tokenizer=None) -> Backend:
    """Build backend ``name`` (importing its module on demand) with a loaded model."""
    if name not in BACKENDS and name in BACKEND_MODULES:
        importlib.import_module(BACKEND_MODULES[name])
    if name not in BACKENDS:
        raise BackendError(
            f"unknown backend {name!r}; known: {', '.join(sorted(set(BACKEND_MODULES) | set(BACKENDS)))}"
        )
    return BACKENDS[name](options, tokenizer)


def model_eos_ids(model: str, tokenizer) -> tuple[int, ...]:
    """The ids that end a response: the tokenizer's EOS plus the EOS ids of the model's
    ``generation_config.json`` when it has one (Qwen2.5-Math: 151643 and 151645)."""
    from transformers import GenerationConfig

    ids = set() if tokenizer.eos_token_id is None else {tokenizer.eos_token_id}
    try:
        extra = GenerationConfig.from_pretrained(model).eos_token_id
    except OSError:  # no generation_config.json
        extra = None
    ids.update(extra if isinstance(extra, list) else [] if extra is None else [extra])
    if not ids:
        raise BackendError(f"neither the tokenizer nor the generation config of {model} defines an EOS token")
    return tuple(sorted(ids))
